import { useState } from 'preact/hooks';
import { accountPaths, call, reasonOf } from '../api.ts';
import { t } from '../i18n.ts';
import { showToast } from '../state.ts';
import { Dialog } from './Dialog.tsx';

export const MIN_PASSWORD_LENGTH = 10;

/** The signed-in user changes their own password; their other sessions end (the server says how many). */
export function ChangePasswordDialog({ onClose }: { onClose: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (next.length < MIN_PASSWORD_LENGTH)
      return setError(t('password.tooShort', { count: MIN_PASSWORD_LENGTH }));
    if (next !== again) return setError(t('password.mismatch'));
    setBusy(true);
    setError(null);
    try {
      const { ended_sessions: ended } = await call<{ ended_sessions: number }>(
        'POST',
        accountPaths.password(),
        {
          current_password: current,
          new_password: next,
        },
      );
      onClose();
      showToast(
        ended === 0
          ? t('password.changedNone')
          : ended === 1
            ? t('password.changedOne')
            : t('password.changed', { count: ended }),
      );
    } catch (err) {
      setError(reasonOf(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('password.title')} onClose={onClose} testId="password-dialog">
      <form class="dialog-form" onSubmit={(e) => void submit(e)}>
        <p class="muted small">{t('password.help')}</p>
        <label class="field">
          <span>{t('password.current')}</span>
          <input
            type="password"
            name="current_password"
            autocomplete="current-password"
            value={current}
            onInput={(e) => setCurrent(e.currentTarget.value)}
            required
          />
        </label>
        <label class="field">
          <span>{t('password.new')}</span>
          <input
            type="password"
            name="new_password"
            autocomplete="new-password"
            value={next}
            onInput={(e) => setNext(e.currentTarget.value)}
            required
          />
          <span class="hint">{t('password.rule', { count: MIN_PASSWORD_LENGTH })}</span>
        </label>
        <label class="field">
          <span>{t('password.confirm')}</span>
          <input
            type="password"
            name="confirm_password"
            autocomplete="new-password"
            value={again}
            onInput={(e) => setAgain(e.currentTarget.value)}
            required
          />
        </label>
        {error && (
          <p class="notice error" role="alert" data-testid="password-error">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? t('password.saving') : t('password.submit')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
