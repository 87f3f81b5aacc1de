/** The usage lines of `skyvault storage` (shared by the CLI's help and storage-cli.ts; loads nothing). */
export const STORAGE_USAGE = `  storage migrate [--config FILE] [--dry-run] [--concurrency N]
                          copy the embedded store's objects (<data dir>/objects) into the bucket that
                          SKYVAULT_STORAGE=minio or aws configures, N at a time (default 4); a new run
                          copies only what is missing; nothing is ever deleted (docs/storage.md);
                          --dry-run only counts what would be copied
`;
