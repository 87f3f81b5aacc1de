/** What several pages share once logged in: the workspace overview (connection details, map tiles). */
import { signal } from '@preact/signals';
import { call, type Overview, paths } from './api.ts';

export const overview = signal<Overview | null>(null);

export async function loadOverview(workspaceId: string): Promise<void> {
  overview.value = await call<Overview>('GET', paths.overview(workspaceId));
}

/** A short message at the bottom of the screen (deleted files, failures). */
export const toast = signal<{ text: string; error?: boolean } | null>(null);
let toastTimer: ReturnType<typeof setTimeout> | undefined;

export function showToast(text: string, error = false): void {
  toast.value = { text, error };
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toast.value = null), error ? 8000 : 4000);
}
