import { useEffect, useRef, useState } from 'preact/hooks';
import { accountPaths, call, reasonOf, type WorkspaceItem } from '../api.ts';
import { Dialog } from '../components/Dialog.tsx';
import { formatCount, formatDate, formatDateTime } from '../format.ts';
import { t } from '../i18n.ts';
import { serverAdmin } from '../roles.ts';
import { session } from '../session.ts';
import { loadOverview, showToast } from '../state.ts';

/**
 * While a workspace is being deleted the list is read again, soon at first (its files go quickly), then
 * less and less often: its rows go only once upload credentials issued before have expired (an hour).
 */
const pollDelayMs = (round: number) => Math.min(30_000, 1500 * (round + 1));

const usersCount = (n: number) =>
  n === 1 ? t('workspaces.usersOne') : t('workspaces.users', { count: formatCount(n) });
const devicesCount = (n: number) =>
  n === 1 ? t('workspaces.devicesOne') : t('workspaces.devices', { count: formatCount(n) });

function useWorkspaces(enabled: boolean) {
  const [list, setList] = useState<WorkspaceItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  // Workspaces seen being deleted: when one is no longer listed, its deletion has finished.
  const beingDeleted = useRef(new Map<string, string>());
  useEffect(() => {
    if (!enabled) return undefined;
    let current = true;
    call<{ list: WorkspaceItem[] }>('GET', accountPaths.workspaces())
      .then((answer) => {
        if (!current) return;
        for (const [id, name] of beingDeleted.current) {
          if (answer.list.some((w) => w.workspace_id === id)) continue;
          beingDeleted.current.delete(id);
          showToast(t('workspaces.deleted', { name }));
        }
        for (const w of answer.list) if (w.deleting) beingDeleted.current.set(w.workspace_id, w.name);
        setList(answer.list);
        setError(null);
      })
      .catch((e: unknown) => current && setError(reasonOf(e)));
    return () => {
      current = false;
    };
  }, [enabled, attempt]);
  const deleting = list?.some((w) => w.deleting) ?? false;
  const round = useRef(0);
  useEffect(() => {
    if (!deleting) {
      round.current = 0;
      return undefined;
    }
    const timer = setTimeout(() => setAttempt((n) => n + 1), pollDelayMs(round.current++));
    return () => clearTimeout(timer);
  }, [deleting, list]);
  return { list, error, reload: () => setAttempt((n) => n + 1) };
}

function NewWorkspaceForm({ onCreated }: { onCreated: (workspace: WorkspaceItem) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const created = await call<WorkspaceItem>('POST', accountPaths.workspaces(), {
        name: name.trim(),
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      setName('');
      setDescription('');
      onCreated(created);
    } catch (err) {
      setError(t('workspaces.createFailed', { reason: reasonOf(err) }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card new-workspace" data-testid="new-workspace">
      <h2>{t('workspaces.newTitle')}</h2>
      <p class="muted small">{t('workspaces.newHelp')}</p>
      <form class="stack-form" onSubmit={(e) => void submit(e)}>
        <WorkspaceFields
          name={name}
          description={description}
          rows={2}
          onName={setName}
          onDescription={setDescription}
        />
        <div class="form-end">
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            {busy ? t('workspaces.creating') : t('workspaces.create')}
          </button>
        </div>
      </form>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** A workspace's name and description, as the create form and the edit dialog ask for them. */
function WorkspaceFields(props: {
  name: string;
  description: string;
  rows: number;
  onName: (value: string) => void;
  onDescription: (value: string) => void;
}) {
  return (
    <>
      <label class="field">
        <span>{t('workspaces.name')}</span>
        <input
          name="workspace_name"
          value={props.name}
          maxLength={200}
          required
          onInput={(e) => props.onName(e.currentTarget.value)}
        />
      </label>
      <label class="field">
        <span>{t('workspaces.description')}</span>
        <textarea
          name="workspace_description"
          rows={props.rows}
          maxLength={2000}
          value={props.description}
          onInput={(e) => props.onDescription(e.currentTarget.value)}
        />
      </label>
    </>
  );
}

function EditDialog({
  workspace,
  onClose,
  onSaved,
}: {
  workspace: WorkspaceItem;
  onClose: () => void;
  onSaved: () => void;
}) {
  const [name, setName] = useState(workspace.name);
  const [description, setDescription] = useState(workspace.description);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const change: { name?: string; description?: string } = {};
    if (name.trim() !== workspace.name) change.name = name.trim();
    if (description.trim() !== workspace.description) change.description = description.trim();
    if (Object.keys(change).length === 0) return onClose();
    setBusy(true);
    setError(null);
    try {
      await call<WorkspaceItem>('PATCH', accountPaths.workspace(workspace.workspace_id), change);
      onSaved();
    } catch (err) {
      setError(reasonOf(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={t('workspaces.editTitle')} onClose={onClose} testId="edit-workspace">
      <form class="dialog-form" onSubmit={(e) => void submit(e)}>
        <WorkspaceFields
          name={name}
          description={description}
          rows={3}
          onName={setName}
          onDescription={setDescription}
        />
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            {t('workspaces.save')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Deleting a workspace is confirmed by typing its name exactly, as the server also asks. */
function DeleteDialog({
  workspace,
  onClose,
  onDeleted,
}: {
  workspace: WorkspaceItem;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const matches = typed === workspace.name;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!matches) return;
    setBusy(true);
    setError(null);
    try {
      await call(
        'DELETE',
        `${accountPaths.workspace(workspace.workspace_id)}?confirm=${encodeURIComponent(typed)}`,
      );
      onDeleted();
    } catch (err) {
      setError(reasonOf(err));
      setBusy(false);
    }
  };
  return (
    <Dialog
      title={t('workspaces.deleteTitle', { name: workspace.name })}
      onClose={onClose}
      testId="delete-workspace"
    >
      <form class="dialog-form" onSubmit={(e) => void submit(e)}>
        <p>
          {t('workspaces.deleteText', {
            users: usersCount(workspace.users),
            devices: devicesCount(workspace.devices),
          })}
        </p>
        <label class="field">
          <span>{t('workspaces.deleteType', { name: workspace.name })}</span>
          <input
            name="confirm_name"
            value={typed}
            autoComplete="off"
            spellcheck={false}
            onInput={(e) => setTyped(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={onClose}>
            {t('delete.cancel')}
          </button>
          <button type="submit" class="danger" disabled={busy || !matches}>
            {t('workspaces.delete')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function WorkspaceRow(props: {
  workspace: WorkspaceItem;
  own: boolean;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const { workspace: w, own } = props;
  const protectedWhy = w.default
    ? t('workspaces.defaultProtected')
    : own
      ? t('workspaces.ownProtected')
      : undefined;
  return (
    <li
      class={w.deleting ? 'account-row workspace-row disabled' : 'account-row workspace-row'}
      data-workspace-id={w.workspace_id}
      data-workspace-name={w.name}
    >
      <div class="account-main">
        <div class="account-title">
          <strong class="workspace-title">{w.name}</strong>
          {w.default && <span class="pill">{t('workspaces.default')}</span>}
          {own && <span class="pill live">{t('workspaces.yours')}</span>}
          {w.deleting && (
            <span class="pill failed" data-testid="workspace-deleting">
              {t('workspaces.deleting')}
            </span>
          )}
        </div>
        <p class={w.description ? 'workspace-description' : 'workspace-description muted'}>
          {w.description || t('workspaces.noDescription')}
        </p>
        <div class="account-meta muted small">
          <span>{usersCount(w.users)}</span>
          <span>{devicesCount(w.devices)}</span>
          <span title={formatDateTime(w.created_at)}>
            {t('users.created', { time: formatDate(w.created_at) })}
          </span>
        </div>
        {w.deleting && <p class="workspace-description muted small">{t('workspaces.deletingHelp')}</p>}
      </div>
      <div class="account-actions">
        {!w.deleting && (
          <>
            <a
              class="button"
              href={own ? '/users' : `/workspaces/${encodeURIComponent(w.workspace_id)}/users`}
            >
              {t('workspaces.manageUsers')}
            </a>
            <button type="button" onClick={props.onEdit}>
              {t('workspaces.edit')}
            </button>
            <button
              type="button"
              class="danger-outline"
              disabled={Boolean(protectedWhy)}
              title={protectedWhy}
              onClick={props.onDelete}
            >
              {t('workspaces.delete')}
            </button>
          </>
        )}
      </div>
    </li>
  );
}

/** `/workspaces`, for server administrators: every workspace, created, renamed and deleted here. */
export function WorkspacesPage() {
  const allowed = serverAdmin.value;
  const own = session.value!.workspaceId;
  const { list, error, reload } = useWorkspaces(allowed);
  const [editing, setEditing] = useState<WorkspaceItem | null>(null);
  const [deleting, setDeleting] = useState<WorkspaceItem | null>(null);

  if (!allowed) {
    return (
      <div class="page">
        <h1>{t('workspaces.title')}</h1>
        <p class="notice">{t('workspaces.forbidden')}</p>
      </div>
    );
  }
  return (
    <div class="page workspaces-page">
      <div class="page-head">
        <h1>{t('workspaces.title')}</h1>
        {list && (
          <span class="muted" data-testid="workspaces-count">
            {list.length === 1
              ? t('workspaces.countOne')
              : t('workspaces.count', { count: formatCount(list.length) })}
          </span>
        )}
      </div>
      {error && (
        <p class="notice error">
          {t('workspaces.loadFailed', { reason: error })}{' '}
          <button type="button" class="link-button" onClick={reload}>
            {t('devices.retry')}
          </button>
        </p>
      )}
      {!list && !error && <p class="muted">{t('workspaces.loading')}</p>}
      {list && (
        <ul class="accounts" data-testid="workspaces">
          {list.map((w) => (
            <WorkspaceRow
              key={w.workspace_id}
              workspace={w}
              own={w.workspace_id === own}
              onEdit={() => setEditing(w)}
              onDelete={() => setDeleting(w)}
            />
          ))}
        </ul>
      )}
      <NewWorkspaceForm
        onCreated={(w) => {
          showToast(t('workspaces.created', { name: w.name }));
          reload();
        }}
      />
      {editing && (
        <EditDialog
          workspace={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            if (editing.workspace_id === own) void loadOverview(own).catch(() => undefined);
            setEditing(null);
            showToast(t('workspaces.saved'));
            reload();
          }}
        />
      )}
      {deleting && (
        <DeleteDialog
          workspace={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={() => {
            showToast(t('workspaces.deleteStarted', { name: deleting.name }));
            setDeleting(null);
            reload();
          }}
        />
      )}
    </div>
  );
}
