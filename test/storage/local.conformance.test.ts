import { startTestStorage } from '../helpers/storage.ts';
import { storageConformance } from './conformance.ts';

storageConformance('local', async () => {
  const storage = await startTestStorage();
  return {
    provider: storage.provider,
    advanceClock: (ms) => {
      storage.clock.offsetMs += ms;
    },
    close: () => storage.close(),
  };
});
