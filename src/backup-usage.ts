/** The usage lines of `skyvault backup` and `skyvault restore` (shared by the CLI's help and backup.ts). */
export const BACKUP_USAGE = `  backup <dir> [--config FILE]
                          copy the SQLite database, the embedded object store and secret.key into
                          a new directory, while Skyvault runs or not (docs/storage.md, "On disk")
  restore <dir> [--force] [--config FILE]
                          put a backup back into the data directory, with Skyvault stopped; checks
                          the backup first; --force replaces the database, objects and secret.key of
                          a data directory that is not empty
`;
