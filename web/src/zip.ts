/**
 * "Download as zip": the server streams the archive (it never holds it whole). Up to IN_PAGE_LIMIT the
 * page reads the stream itself to show a progress line, then hands the finished archive to the
 * browser's download (measured against X-Skyvault-Media-Bytes, the sum of the files; the zip's own
 * headers add a little). Larger selections would have to sit in the page's memory: those are posted as
 * a form, and the browser saves the zip to disk as it arrives, with its own progress.
 */
import { signal } from '@preact/signals';
import { ApiError, paths, send } from './api.ts';
import { session } from './session.ts';

/** Above this many bytes of media the browser's own download takes over (tests lower it). */
function inPageLimit(): number {
  return Number(localStorage.getItem('skyvault.zipInPageLimit') ?? 256 * 1024 * 1024);
}

export interface ZipProgress {
  done: number;
  total: number;
  saving: boolean;
}

export const zipProgress = signal<ZipProgress | null>(null);
let controller: AbortController | undefined;

export function cancelZip(): void {
  controller?.abort();
}

/** Starts the zip of `fileIds`; answers 'page' when the page shows the progress, 'browser' otherwise. */
export async function downloadZip(
  workspaceId: string,
  fileIds: string[],
  mediaBytes: number,
  onLateError: (message: string) => void,
): Promise<'page' | 'browser'> {
  if (mediaBytes > inPageLimit()) {
    submitForm(workspaceId, fileIds, onLateError);
    return 'browser';
  }
  await readInPage(workspaceId, fileIds);
  return 'page';
}

/**
 * Posts the ids and the token as a form into a hidden frame: the answer is an attachment, which the
 * browser downloads. An error (a JSON answer) loads into the frame instead, where the page reads it.
 */
function submitForm(workspaceId: string, fileIds: string[], onError: (message: string) => void): void {
  const name = `skyvault-zip-${Date.now()}`;
  const frame = document.createElement('iframe');
  frame.name = name;
  frame.hidden = true;
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = paths.zip(workspaceId);
  form.target = name;
  form.hidden = true;
  const field = (key: string, value: string) => {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = key;
    input.value = value;
    form.append(input);
  };
  for (const id of fileIds) field('file_ids', id);
  field('x-auth-token', session.value?.token ?? '');
  document.body.append(frame, form);
  frame.addEventListener('load', () => {
    // Only an error page loads into the frame; a download does not.
    const text = frame.contentDocument?.body?.textContent ?? '';
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // Not JSON: shown as it is.
    }
    frame.remove();
    if (text) onError(message);
  });
  form.submit();
  form.remove();
}

async function readInPage(workspaceId: string, fileIds: string[]): Promise<void> {
  controller = new AbortController();
  const { signal: abort } = controller;
  zipProgress.value = { done: 0, total: 0, saving: false };
  try {
    const response = await send('POST', paths.zip(workspaceId), { file_ids: fileIds });
    if (!response.ok || !response.body) {
      const envelope = (await response.json().catch(() => null)) as { message?: string } | null;
      throw new ApiError(envelope?.message ?? response.statusText, response.status, -1);
    }
    const total = Number(response.headers.get('x-skyvault-media-bytes') ?? 0);
    const name =
      /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'skyvault.zip';
    const reader = response.body.getReader();
    abort.addEventListener('abort', () => void reader.cancel());
    const parts: Uint8Array[] = [];
    let done = 0;
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      parts.push(chunk.value);
      done += chunk.value.byteLength;
      zipProgress.value = { done, total: Math.max(total, done), saving: false };
    }
    if (abort.aborted) return;
    zipProgress.value = { done, total: done, saving: true };
    const url = URL.createObjectURL(new Blob(parts as BlobPart[], { type: 'application/zip' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } finally {
    zipProgress.value = null;
    controller = undefined;
  }
}
