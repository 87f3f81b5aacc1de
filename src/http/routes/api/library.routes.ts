import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { MediaLibraryService } from '../../../features/media/media-library.service.ts';
import type { PublicAddresses } from '../../public-address.ts';

export interface LibraryApiRoutesOptions {
  library: MediaLibraryService;
  addresses: PublicAddresses;
}

// Placeholder: the helper working on library queries fills this in.
export const libraryApiRoutes: FastifyPluginAsyncTypebox<LibraryApiRoutesOptions> = async () => {};
