import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { accountPaths, call } from '../api.ts';
import { t } from '../i18n.ts';
import { role, roleLabel, serverAdmin } from '../roles.ts';
import { session, signOut } from '../session.ts';
import { overview } from '../state.ts';
import { ChangePasswordDialog } from './ChangePasswordDialog.tsx';

/** Ends the session on the server, then here, whether or not the server could be reached. */
async function logOut(): Promise<void> {
  try {
    await call('POST', accountPaths.logout());
  } catch {
    // Unreachable or already ended: the token is forgotten here all the same.
  } finally {
    signOut();
  }
}

/** Who is signed in (name, role) and what they do with their own account: password, logging out. */
export function AccountMenu() {
  const [open, setOpen] = useState(false);
  const [changing, setChanging] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  // A layout effect: the listeners are there before the menu is painted (see Dialog.tsx).
  useLayoutEffect(() => {
    if (!open) return undefined;
    const onDown = (e: Event) => {
      if (!box.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    addEventListener('pointerdown', onDown);
    addEventListener('keydown', onKey);
    return () => {
      removeEventListener('pointerdown', onDown);
      removeEventListener('keydown', onKey);
    };
  }, [open]);

  const username = session.value?.username ?? '';
  const roleName = t(roleLabel(role.value));
  return (
    <div class="account" ref={box}>
      <button
        type="button"
        class="account-button"
        aria-haspopup="menu"
        aria-expanded={open}
        data-testid="account-button"
        title={`${username} · ${roleName}`}
        onClick={() => setOpen(!open)}
      >
        <span class="avatar" aria-hidden="true">
          {username.slice(0, 1).toUpperCase()}
        </span>
        <span class="account-text">
          <span class="account-name">{username}</span>
          <span class="account-role" data-testid="account-role">
            {roleName}
          </span>
        </span>
        <span class="caret" aria-hidden="true" />
      </button>
      {open && (
        <div class="menu" role="menu" data-testid="account-menu">
          <div class="menu-head">
            <strong>{username}</strong>
            <span class="muted small">
              {serverAdmin.value ? `${roleName} · ${t('account.serverAdmin')}` : roleName}
            </span>
            {overview.value && (
              <span class="muted small">
                {t('account.workspace', { name: overview.value.workspace.name })}
              </span>
            )}
          </div>
          <button
            type="button"
            role="menuitem"
            onClick={() => {
              setOpen(false);
              setChanging(true);
            }}
          >
            {t('account.changePassword')}
          </button>
          <button type="button" role="menuitem" onClick={() => void logOut()}>
            {t('account.logOut')}
          </button>
        </div>
      )}
      {changing && <ChangePasswordDialog onClose={() => setChanging(false)} />}
    </div>
  );
}
