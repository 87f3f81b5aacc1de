import { t } from '../i18n.ts';

/** A device's online state: a dot and a word. */
export function OnlineState({ online }: { online: boolean }) {
  return (
    <span class={online ? 'online-state on' : 'online-state'} data-online={online ? 'true' : 'false'}>
      <span class="state-dot" aria-hidden="true" />
      {online ? t('devices.online') : t('devices.offline')}
    </span>
  );
}
