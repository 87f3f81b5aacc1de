/** The usage lines of `skyvault admin` (shared by the CLI's help and admin.ts; loads nothing). */
export const ADMIN_USAGE = `  admin reset-password [--username NAME] [--config FILE]
                          give a user a new generated password, printed once (default: the admin
                          user named by SKYVAULT_ADMIN_USERNAME); the user's sessions end
  admin create-user --username NAME [--workspace ID] [--role ROLE] [--server-admin] [--config FILE]
                          add a user (to the default workspace unless --workspace) with a generated
                          password, printed once; ROLE is administrator (default), operator, viewer
                          or device (a DJI Pilot 2 / dock account); --server-admin also lets an
                          administrator manage every workspace
`;
