/** The usage lines of `skyvault admin` (shared by the CLI's help and admin.ts; loads nothing). */
export const ADMIN_USAGE = `  admin reset-password [--username NAME] [--config FILE]
                          give a user a new generated password, printed once (default: the admin
                          user named by SKYVAULT_ADMIN_USERNAME)
  admin create-user --username NAME [--workspace ID] [--pilot] [--config FILE]
                          add a user (to the default workspace unless --workspace) with a generated
                          password, printed once; --pilot makes it a DJI Pilot 2 account
`;
