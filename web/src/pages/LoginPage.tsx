import { useState } from 'preact/hooks';
import { ApiError, call, type LoginAnswer } from '../api.ts';
import { LanguageSwitch } from '../components/Header.tsx';
import { t } from '../i18n.ts';
import { sessionOf, signedOutReason, signIn } from '../session.ts';

export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await call<LoginAnswer>('POST', '/manage/api/v1/login', {
        username,
        password,
        flag: 1,
      });
      signIn(sessionOf(answer));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('common.error', { reason: String(e) }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="login">
      <form class="login-card" onSubmit={(e) => void submit(e)}>
        <div class="login-top">
          <div class="brand brand-large">
            <span class="brand-mark" aria-hidden="true" />
            {t('appName')}
          </div>
          <LanguageSwitch />
        </div>
        <h1>{t('login.title')}</h1>
        <p class="muted">{t('login.subtitle')}</p>
        {signedOutReason.value && (
          <p class="notice">{t('login.expired', { reason: signedOutReason.value })}</p>
        )}
        <label>
          {t('login.username')}
          <input
            name="username"
            autocomplete="username"
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          {t('login.password')}
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {busy ? t('login.busy') : t('login.submit')}
        </button>
      </form>
    </div>
  );
}
