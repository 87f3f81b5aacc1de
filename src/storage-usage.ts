/** The usage lines of `skyvault storage` (shared by the CLI's help and storage-cli.ts; loads nothing). */
export const STORAGE_USAGE = `  storage init [--config FILE]
                          create the bucket that SKYVAULT_STORAGE=minio or aws configures when it is
                          missing and give it the CORS rule browsers need, keeping its other rules;
                          running it again changes nothing (docs/storage.md)
  storage migrate [--config FILE] [--dry-run] [--concurrency N]
                          copy the embedded store's objects (<data dir>/objects) into the bucket that
                          SKYVAULT_STORAGE=minio or aws configures, N at a time (default 4); a new run
                          copies only what is missing; nothing is ever deleted (docs/storage.md);
                          --dry-run only counts what would be copied
`;
