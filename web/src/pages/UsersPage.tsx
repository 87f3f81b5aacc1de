import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { type Account, accountPaths, call, reasonOf, type Role, type WorkspaceItem } from '../api.ts';
import { MIN_PASSWORD_LENGTH } from '../components/ChangePasswordDialog.tsx';
import { Confirm } from '../components/Confirm.tsx';
import { SecretDialog } from '../components/SecretDialog.tsx';
import { formatCount, formatDate, formatDateTime } from '../format.ts';
import { t } from '../i18n.ts';
import { managesUsers, ROLES, roleHelp, roleLabel, serverAdmin } from '../roles.ts';
import { session } from '../session.ts';
import { loadOverview, overview, showToast } from '../state.ts';

/** What the page shows of its workspace: the overview's for one's own, the workspace list's for others. */
interface WorkspaceInfo {
  id: string;
  name: string;
  bindCode: string;
}

function useWorkspace(workspaceId: string, own: boolean) {
  const [other, setOther] = useState<WorkspaceInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (own) return undefined;
    let current = true;
    call<{ list: WorkspaceItem[] }>('GET', accountPaths.workspaces())
      .then(({ list }) => {
        if (!current) return;
        const found = list.find((w) => w.workspace_id === workspaceId);
        if (found) setOther({ id: found.workspace_id, name: found.name, bindCode: found.bind_code });
        else setError(t('users.noWorkspace'));
      })
      .catch((e: unknown) => current && setError(reasonOf(e)));
    return () => {
      current = false;
    };
  }, [workspaceId, own]);
  const o = overview.value;
  const info = own
    ? o
      ? { id: o.workspace.id, name: o.workspace.name, bindCode: o.workspace.bind_code }
      : null
    : other;
  /** A new bind code, shown at once (for one's own workspace, on the connect page too). */
  const setBindCode = (bindCode: string) => {
    const now = overview.value;
    if (!own) setOther((w) => w && { ...w, bindCode });
    else if (now) overview.value = { ...now, workspace: { ...now.workspace, bind_code: bindCode } };
  };
  return { info, error, setBindCode };
}

/** A password, or MQTT credentials, to show once. */
interface Secret {
  title: string;
  text: string;
  fields: { label: string; value: string; name: string }[];
}

/** What is waiting for a confirmation. */
type Pending = { kind: 'reset' | 'mqtt' | 'remove'; user: Account } | { kind: 'bind-code' };

function NewUserForm({
  workspaceId,
  onCreated,
}: {
  workspaceId: string;
  onCreated: (secret: Secret) => void;
}) {
  const [username, setUsername] = useState('');
  const [newRole, setNewRole] = useState<Role>('operator');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const name = username.trim();
    if (!name) return;
    if (password && password.length < MIN_PASSWORD_LENGTH) {
      return setError(t('password.tooShort', { count: MIN_PASSWORD_LENGTH }));
    }
    setBusy(true);
    setError(null);
    try {
      const answer = await call<{ user: Account; password: string }>(
        'POST',
        accountPaths.users(workspaceId),
        {
          username: name,
          role: newRole,
          ...(password ? { password } : {}),
        },
      );
      setUsername('');
      setPassword('');
      onCreated({
        title: t('users.createdTitle', { name: answer.user.username }),
        text: t(password ? 'users.createdChosen' : 'users.createdText', {
          role: t(roleLabel(answer.user.role)),
        }),
        fields: [
          { label: t('login.username'), value: answer.user.username, name: 'username' },
          { label: t('login.password'), value: answer.password, name: 'password' },
        ],
      });
    } catch (err) {
      setError(t('users.createFailed', { reason: reasonOf(err) }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" data-testid="new-user">
      <h2>{t('users.newTitle')}</h2>
      <form class="stack-form" onSubmit={(e) => void submit(e)}>
        <div class="form-row">
          <label class="field field-grow">
            <span>{t('login.username')}</span>
            <input
              name="new_username"
              value={username}
              maxLength={64}
              autoComplete="off"
              spellcheck={false}
              required
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          </label>
          <label class="field">
            <span>{t('users.role')}</span>
            <select
              name="new_role"
              value={newRole}
              onChange={(e) => setNewRole(e.currentTarget.value as Role)}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(roleLabel(r))}
                </option>
              ))}
            </select>
          </label>
        </div>
        <p class="muted small role-help" data-testid="role-help">
          {t(roleHelp(newRole))}
        </p>
        <label class="field">
          <span>{t('users.password')}</span>
          <input
            name="new_password"
            type="password"
            autoComplete="new-password"
            value={password}
            placeholder={t('users.passwordPlaceholder')}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <div class="form-end">
          <button type="submit" class="primary" disabled={busy || !username.trim()}>
            {busy ? t('users.creating') : t('users.create')}
          </button>
        </div>
      </form>
      {error && (
        <p class="notice error" role="alert" data-testid="new-user-error">
          {error}
        </p>
      )}
    </section>
  );
}

function BindCodeCard(props: { workspace: WorkspaceInfo | null; onRegenerate: () => void; busy: boolean }) {
  const { workspace } = props;
  return (
    <section class="card" data-testid="bind-code">
      <h2>{t('users.bindTitle')}</h2>
      <p class="muted small">{t('users.bindHelp')}</p>
      {workspace && (
        <dl class="fields">
          <dt>{t('connect.bindCode')}</dt>
          <dd>
            <code class="bind-code" data-testid="bind-code-value">
              {workspace.bindCode}
            </code>
          </dd>
          <dt>{t('connect.orgId')}</dt>
          <dd>
            <code>{workspace.id}</code>
          </dd>
        </dl>
      )}
      <div class="form-end">
        <button type="button" onClick={props.onRegenerate} disabled={!workspace || props.busy}>
          {t('users.bindRegenerate')}
        </button>
      </div>
    </section>
  );
}

function AccountRow(props: {
  user: Account;
  self: boolean;
  busy: boolean;
  onRole: (role: Role) => void;
  onDisabled: (disabled: boolean) => void;
  onAsk: (kind: 'reset' | 'mqtt' | 'remove') => void;
}) {
  const { user, self, busy } = props;
  const selfHint = self ? t('users.notYourself') : undefined;
  return (
    <li class={user.disabled ? 'account-row disabled' : 'account-row'} data-username={user.username}>
      <div class="account-main">
        <div class="account-title">
          <strong class="account-username">{user.username}</strong>
          {self && <span class="pill live">{t('users.you')}</span>}
          {user.server_admin && <span class="pill">{t('account.serverAdmin')}</span>}
          <span class={user.disabled ? 'pill failed' : 'pill ok'} data-testid="user-status">
            {user.disabled ? t('users.disabled') : t('users.enabled')}
          </span>
        </div>
        <div class="account-meta muted small">
          <span>
            {t('users.mqtt')} <code>{user.mqtt_username}</code>
          </span>
          <span data-testid="user-sessions">
            {user.sessions === 0
              ? t('users.sessionsNone')
              : user.sessions === 1
                ? t('users.sessionsOne')
                : t('users.sessions', { count: formatCount(user.sessions) })}
          </span>
          <span title={formatDateTime(user.created_at)}>
            {t('users.created', { time: formatDate(user.created_at) })}
          </span>
        </div>
      </div>
      <label class="account-role-select">
        <span class="visually-hidden">{t('users.role')}</span>
        <select
          name="role"
          value={user.role}
          disabled={self || busy}
          title={selfHint}
          onChange={(e) => props.onRole(e.currentTarget.value as Role)}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(roleLabel(r))}
            </option>
          ))}
        </select>
      </label>
      <div class="account-actions">
        <button
          type="button"
          disabled={self || busy}
          title={selfHint}
          onClick={() => props.onDisabled(!user.disabled)}
        >
          {user.disabled ? t('users.enable') : t('users.disable')}
        </button>
        <button type="button" disabled={busy} onClick={() => props.onAsk('reset')}>
          {t('users.resetPassword')}
        </button>
        <button type="button" disabled={busy} onClick={() => props.onAsk('mqtt')}>
          {t('users.rotateMqtt')}
        </button>
        <button
          type="button"
          class="danger-outline"
          disabled={self || busy}
          title={selfHint}
          onClick={() => props.onAsk('remove')}
        >
          {t('users.remove')}
        </button>
      </div>
    </li>
  );
}

/**
 * `/users`: the users of one's workspace; `/workspaces/<id>/users`: of another workspace, for a server
 * administrator. Create (the password shown once), change roles, disable, reset passwords, rotate MQTT
 * passwords, remove; and the workspace's dock bind code.
 */
export function UsersPage() {
  const { params } = useRoute();
  const ownId = session.value!.workspaceId;
  const workspaceId = params.id ?? ownId;
  const own = workspaceId === ownId;
  const allowed = own ? managesUsers() : serverAdmin.value;
  const { info, error: workspaceError, setBindCode } = useWorkspace(workspaceId, own);
  const [users, setUsers] = useState<Account[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [busy, setBusy] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [secret, setSecret] = useState<Secret | null>(null);
  const reload = () => setAttempt((n) => n + 1);

  useEffect(() => {
    if (!allowed) return undefined;
    let current = true;
    call<{ list: Account[] }>('GET', accountPaths.users(workspaceId))
      .then(({ list }) => {
        if (!current) return;
        setUsers(list);
        setError(null);
      })
      .catch((e: unknown) => current && setError(reasonOf(e)));
    return () => {
      current = false;
    };
  }, [workspaceId, allowed, attempt]);

  if (!allowed) {
    return (
      <div class="page">
        <h1>{t('users.title')}</h1>
        <p class="notice">{t('users.forbidden')}</p>
      </div>
    );
  }

  /** Runs one change of a user, then reloads the list; failures in a toast. */
  const act = async <T,>(user: Account | null, work: () => Promise<T>, done: (answer: T) => void) => {
    setBusy(user?.user_id ?? 'workspace');
    try {
      done(await work());
    } catch (e) {
      showToast(t('users.failed', { reason: reasonOf(e) }), true);
    } finally {
      setBusy(null);
      reload();
    }
  };

  /**
   * Shows a user as the server answered at once: the list's reload comes after, and until it does the
   * row (enabled again) would show the user as before the change.
   */
  const updated = (u: Account) =>
    setUsers((list) => list && list.map((x) => (x.user_id === u.user_id ? u : x)));

  const changeRole = (user: Account, next: Role) =>
    void act(
      user,
      () => call<Account>('PATCH', accountPaths.user(workspaceId, user.user_id), { role: next }),
      (u) => {
        updated(u);
        showToast(t('users.roleChanged', { name: u.username, role: t(roleLabel(u.role)) }));
      },
    );

  const setDisabled = (user: Account, disabled: boolean) =>
    void act(
      user,
      () => call<Account>('PATCH', accountPaths.user(workspaceId, user.user_id), { disabled }),
      (u) => {
        updated(u);
        showToast(t(u.disabled ? 'users.disabledDone' : 'users.enabledDone', { name: u.username }));
      },
    );

  const confirmed = (what: Pending) => {
    setPending(null);
    if (what.kind === 'bind-code') {
      void act(
        null,
        () => call<{ bind_code: string }>('POST', accountPaths.bindCode(workspaceId)),
        (w) => {
          setBindCode(w.bind_code);
          showToast(t('users.bindDone', { code: w.bind_code }));
        },
      );
      return;
    }
    const { user } = what;
    if (what.kind === 'reset') {
      void act(
        user,
        () => call<{ password: string }>('POST', accountPaths.userPassword(workspaceId, user.user_id)),
        ({ password }) =>
          setSecret({
            title: t('users.resetTitle', { name: user.username }),
            text: t('users.resetText'),
            fields: [
              { label: t('login.username'), value: user.username, name: 'username' },
              { label: t('login.password'), value: password, name: 'password' },
            ],
          }),
      );
    } else if (what.kind === 'mqtt') {
      void act(
        user,
        () =>
          call<{ mqtt_username: string; mqtt_password: string }>(
            'POST',
            accountPaths.userMqttPassword(workspaceId, user.user_id),
          ),
        (answer) => {
          if (own && user.username === session.value?.username) {
            void loadOverview(workspaceId).catch(() => undefined);
          }
          setSecret({
            title: t('users.mqttTitle', { name: user.username }),
            text: t('users.mqttText'),
            fields: [
              { label: t('connect.account'), value: answer.mqtt_username, name: 'mqtt_username' },
              { label: t('connect.password'), value: answer.mqtt_password, name: 'mqtt_password' },
            ],
          });
        },
      );
    } else {
      void act(
        user,
        () => call('DELETE', accountPaths.user(workspaceId, user.user_id)),
        () => showToast(t('users.removed', { name: user.username })),
      );
    }
  };

  const confirmText = (what: Pending): { text: string; label: string } => {
    switch (what.kind) {
      case 'bind-code':
        return { text: t('users.bindConfirm'), label: t('users.bindRegenerate') };
      case 'reset':
        return {
          text: t('users.resetConfirm', { name: what.user.username }),
          label: t('users.resetPassword'),
        };
      case 'mqtt':
        return { text: t('users.mqttConfirm', { name: what.user.username }), label: t('users.rotateMqtt') };
      case 'remove':
        return { text: t('users.removeConfirm', { name: what.user.username }), label: t('users.remove') };
    }
  };

  const me = session.value?.username;
  return (
    <div class="page users-page">
      {!own && (
        <a class="back-link" href="/workspaces">
          ← {t('users.backToWorkspaces')}
        </a>
      )}
      <div class="page-head">
        <h1>{t('users.title')}</h1>
        {info && (
          <span class="muted" data-testid="users-workspace">
            {t('users.ofWorkspace', { name: info.name })}
          </span>
        )}
        {users && (
          <span class="muted page-head-end" data-testid="users-count">
            {users.length === 1
              ? t('users.countOne')
              : t('users.count', { count: formatCount(users.length) })}
          </span>
        )}
      </div>
      {workspaceError && <p class="notice error">{workspaceError}</p>}
      {error && (
        <p class="notice error">
          {t('users.loadFailed', { reason: error })}{' '}
          <button type="button" class="link-button" onClick={reload}>
            {t('devices.retry')}
          </button>
        </p>
      )}
      {!users && !error && <p class="muted">{t('users.loading')}</p>}
      {users && users.length === 0 && <p class="lead">{t('users.empty')}</p>}
      {users && users.length > 0 && (
        <ul class="accounts" data-testid="users">
          {users.map((user) => (
            <AccountRow
              key={user.user_id}
              user={user}
              self={own && user.username === me}
              busy={busy === user.user_id}
              onRole={(r) => changeRole(user, r)}
              onDisabled={(d) => setDisabled(user, d)}
              onAsk={(kind) => setPending({ kind, user })}
            />
          ))}
        </ul>
      )}
      <div class="account-cards">
        <NewUserForm
          workspaceId={workspaceId}
          onCreated={(s) => {
            setSecret(s);
            reload();
          }}
        />
        <BindCodeCard
          workspace={info}
          busy={busy === 'workspace'}
          onRegenerate={() => setPending({ kind: 'bind-code' })}
        />
      </div>
      {pending && (
        <Confirm
          text={confirmText(pending).text}
          confirmLabel={confirmText(pending).label}
          onConfirm={() => confirmed(pending)}
          onCancel={() => setPending(null)}
        />
      )}
      {secret && <SecretDialog {...secret} onClose={() => setSecret(null)} />}
    </div>
  );
}
