/**
 * The workspace's live updates over the server's WebSocket (`/api/v1/ws`): new media, devices coming
 * and going and log upload progress move the pages without a reload. Reconnects with a growing delay
 * when the link drops.
 */
import { signal } from '@preact/signals';
import { session } from './session.ts';

export interface LiveMessage {
  biz_code: string;
  timestamp: number;
  data: Record<string, unknown>;
}

type Listener = (message: LiveMessage) => void;

const listeners = new Set<Listener>();
/** Whether the live link is up (shown in the header). */
export const liveConnected = signal(false);
/** Bumped on every message that changes media, so views can refetch. */
export const mediaVersion = signal(0);
/** Bumped when a device comes, goes or changes its aircraft, so the devices page can refetch. */
export const devicesVersion = signal(0);

export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const MEDIA_EVENTS = new Set(['media_file_created', 'file_upload_callback', 'media_files_deleted']);
const DEVICE_EVENTS = new Set(['device_online', 'device_offline', 'device_update_topo']);

export function connectLive(): () => void {
  let socket: WebSocket | undefined;
  let retry = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const open = () => {
    const token = session.value?.token;
    if (!token || stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws?x-auth-token=${encodeURIComponent(token)}`);
    socket.onopen = () => {
      retry = 1000;
      liveConnected.value = true;
    };
    socket.onmessage = (event) => {
      let message: LiveMessage;
      try {
        message = JSON.parse(String(event.data)) as LiveMessage;
      } catch {
        return;
      }
      if (MEDIA_EVENTS.has(message.biz_code)) mediaVersion.value += 1;
      if (DEVICE_EVENTS.has(message.biz_code)) devicesVersion.value += 1;
      for (const listener of listeners) listener(message);
    };
    socket.onclose = () => {
      liveConnected.value = false;
      if (stopped) return;
      timer = setTimeout(open, retry);
      retry = Math.min(retry * 2, 30_000);
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  };
}
