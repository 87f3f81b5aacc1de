import { useLocation } from 'preact-iso';
import { language, setLanguage, t } from '../i18n.ts';
import { liveConnected } from '../live.ts';
import { managesUsers, serverAdmin } from '../roles.ts';
import { overview } from '../state.ts';
import { AccountMenu } from './AccountMenu.tsx';

export function LanguageSwitch() {
  return (
    <button
      type="button"
      class="link-button"
      lang={language.value === 'zh' ? 'en' : 'zh-CN'}
      onClick={() => setLanguage(language.value === 'zh' ? 'en' : 'zh')}
    >
      {t('nav.language')}
    </button>
  );
}

export function Header() {
  const { path, query } = useLocation();
  // The library and the map share their filters: switching keeps them.
  const keep = new URLSearchParams(query);
  keep.delete('file');
  const carried = keep.toString() ? `?${keep.toString()}` : '';
  const tab = (href: string, label: string, carry = false) => (
    <a
      href={carry ? `${href}${carried}` : href}
      class={path === href || (href !== '/' && path.startsWith(`${href}/`)) ? 'tab active' : 'tab'}
    >
      {label}
    </a>
  );
  return (
    <header class="header">
      <a class="brand" href="/">
        <span class="brand-mark" aria-hidden="true" />
        {t('appName')}
      </a>
      <nav class="tabs">
        {tab('/', t('nav.library'), true)}
        {tab('/map', t('nav.map'), true)}
        {tab('/groups', t('nav.groups'))}
        {tab('/devices', t('nav.devices'))}
        {tab('/connect', t('nav.connect'))}
        {managesUsers() && tab('/users', t('nav.users'))}
        {serverAdmin.value && tab('/workspaces', t('nav.workspaces'))}
      </nav>
      <div class="header-end">
        <span
          class={liveConnected.value ? 'live-dot on' : 'live-dot'}
          title={liveConnected.value ? t('nav.live') : t('nav.offline')}
          aria-label={liveConnected.value ? t('nav.live') : t('nav.offline')}
        />
        {overview.value && <span class="workspace-name">{overview.value.workspace.name}</span>}
        <LanguageSwitch />
        <AccountMenu />
      </div>
    </header>
  );
}
