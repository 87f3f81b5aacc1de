/**
 * A dock's remote logs (`/devices?logs=<dock SN>`): what the dock and its aircraft hold (asked of the
 * dock itself, which takes a few seconds), a form to upload chosen boot sessions, and the uploads so far
 * with their live progress (`fileupload_progress` over the WebSocket), downloads, cancel and delete.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  call,
  type Device,
  type DeviceLogs,
  type DeviceLogsPage,
  devicePaths,
  type LogBoot,
  type LogFileProgress,
  type LogListing as LogListingAnswer,
  type LogModule,
  type LogProgressEvent,
  type LogTaskStatus,
  query,
} from '../api.ts';
import { formatBytes, formatCount, formatDateTime, formatTimeRange } from '../format.ts';
import { isMessageKey, type MessageKey, t } from '../i18n.ts';
import { devicesVersion, liveConnected, onLive } from '../live.ts';
import { showToast } from '../state.ts';
import { Confirm } from './Confirm.tsx';
import { OnlineState } from './OnlineState.tsx';

/** The dock first, then its aircraft. */
const MODULES: LogModule[] = ['3', '0'];
const PAGE_SIZE = 20;
/** A file's statuses while the dock sends it to storage (its percent is the file's). */
const UPLOAD_PHASES = new Set(['file_uploading', 'in_progress', 'paused']);
/** A file's statuses once it is over. */
const FILE_ENDED = new Set(['ok', 'failed', 'canceled', 'rejected', 'timeout']);

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const moduleLabel = (m: LogModule) => (m === '3' ? t('logs.moduleDock') : t('logs.moduleAircraft'));
/** A device time as epoch ms: the server's normalised value, else the raw one (seconds or ms). */
function msOf(raw: number | undefined, normalised: number | undefined): number | undefined {
  if (normalised !== undefined) return normalised;
  if (raw === undefined) return undefined;
  return raw < 1e12 ? raw * 1000 : raw;
}
const startOf = (b: LogBoot) => msOf(b.start_time, b.start_time_ms);

/** When a boot session ran, as far as the device said. */
function bootTime(boot: LogBoot): string {
  const start = startOf(boot);
  const end = msOf(boot.end_time, boot.end_time_ms);
  if (start === undefined) return end === undefined ? '' : formatDateTime(end);
  return formatTimeRange(start, end ?? start);
}

/** A per-file status word as a task status (docs/protocol.md §5.1). */
function taskStatusOf(status: string): LogTaskStatus {
  if (status === 'ok') return 2;
  if (status === 'canceled') return 3;
  if (status === 'failed' || status === 'rejected' || status === 'timeout') return 4;
  return 1;
}

function fileStatusText(status: string | undefined): string {
  if (!status) return '';
  const key = `logs.file.${status}`;
  return isMessageKey(key) ? t(key) : status;
}

function Checkbox(props: {
  checked: boolean;
  indeterminate?: boolean;
  disabled?: boolean;
  label?: string;
  onChange: (checked: boolean) => void;
}) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = Boolean(props.indeterminate);
  }, [props.indeterminate]);
  return (
    <input
      ref={ref}
      type="checkbox"
      checked={props.checked}
      disabled={props.disabled}
      aria-label={props.label}
      onChange={(e) => props.onChange(e.currentTarget.checked)}
    />
  );
}

type Selection = Record<LogModule, Set<number>>;
const noSelection = (): Selection => ({ '3': new Set(), '0': new Set() });

function LogModuleSection(props: {
  module: LogModule;
  entry: LogListingAnswer['files'][number] | undefined;
  sn: string | undefined;
  selected: Set<number>;
  onSelect: (next: Set<number>) => void;
}) {
  const { module, entry, selected, onSelect } = props;
  const boots = [...(entry?.list ?? [])].sort(
    (a, b) => (startOf(b) ?? 0) - (startOf(a) ?? 0) || b.boot_index - a.boot_index,
  );
  const all = boots.length > 0 && boots.every((b) => selected.has(b.boot_index));
  const some = !all && boots.some((b) => selected.has(b.boot_index));
  const failed = entry && entry.result !== 0;
  const toggle = (boot: LogBoot, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(boot.boot_index);
    else next.delete(boot.boot_index);
    onSelect(next);
  };
  return (
    <section class="log-module" data-module={module}>
      <div class="log-module-head">
        <h3>{moduleLabel(module)}</h3>
        {props.sn && <code>{props.sn}</code>}
      </div>
      {failed ? (
        <p class="notice error small" data-testid="module-reason">
          {t('logs.moduleFailed', {
            reason: entry.reason || t('logs.errorCode', { code: entry.result }),
          })}
        </p>
      ) : boots.length === 0 ? (
        <p class="muted small">{t('logs.none')}</p>
      ) : (
        <>
          <label class="check select-all">
            <Checkbox
              checked={all}
              indeterminate={some}
              onChange={(on) => onSelect(on ? new Set(boots.map((b) => b.boot_index)) : new Set())}
            />
            {t('logs.selectAll', { count: formatCount(boots.length) })}
          </label>
          <ul class="boots">
            {boots.map((boot) => (
              <li key={boot.boot_index}>
                <label class="check boot" data-boot-index={boot.boot_index}>
                  <Checkbox checked={selected.has(boot.boot_index)} onChange={(on) => toggle(boot, on)} />
                  <span class="boot-text">
                    <span>
                      {t('logs.boot', { index: boot.boot_index })}
                      {boot.size !== undefined && <span class="muted"> · {formatBytes(boot.size)}</span>}
                    </span>
                    <span class="muted small">{bootTime(boot)}</span>
                  </span>
                </label>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** What is on the dock and its aircraft, and the form that uploads a choice of it. */
function LogListing(props: {
  workspaceId: string;
  dockSn: string;
  aircraftSn: string | undefined;
  onStarted: () => void;
}) {
  const { workspaceId, dockSn } = props;
  const [listing, setListing] = useState<LogListingAnswer | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [selected, setSelected] = useState<Selection>(noSelection);
  const [description, setDescription] = useState('');
  const [happenAt, setHappenAt] = useState('');
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    setLoading(true);
    setError(null);
    call<LogListingAnswer>('GET', `${devicePaths.logs(workspaceId, dockSn)}${query({ domain_list: '0,3' })}`)
      .then((answer) => {
        if (!current) return;
        setListing(answer);
        setSelected(noSelection());
      })
      .catch((e: unknown) => current && setError(reasonOf(e)))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [workspaceId, dockSn, attempt]);

  const entryOf = (m: LogModule) => listing?.files.find((f) => String(f.module) === m);
  const chosen = MODULES.flatMap((m) =>
    (entryOf(m)?.list ?? []).filter((b) => selected[m].has(b.boot_index)),
  );
  const chosenBytes = chosen.reduce((sum, b) => sum + (b.size ?? 0), 0);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (chosen.length === 0) return;
    const files = MODULES.flatMap((m) => {
      const entry = entryOf(m);
      const list = (entry?.list ?? []).filter((b) => selected[m].has(b.boot_index));
      if (!entry || list.length === 0) return [];
      return [
        {
          device_sn: entry.device_sn,
          module: m,
          // The device's own times, unchanged: it finds its logs by them.
          list: list.map(({ boot_index, start_time, end_time, size }) => ({
            boot_index,
            start_time,
            end_time,
            size,
          })),
        },
      ];
    });
    const body: Record<string, unknown> = { files };
    if (description.trim()) body.logs_information = description.trim();
    if (happenAt) body.happen_time = new Date(happenAt).getTime();
    setStarting(true);
    setStartError(null);
    try {
      await call<string>('POST', devicePaths.logs(workspaceId, dockSn), body);
      showToast(t('logs.started'));
      setSelected(noSelection());
      setDescription('');
      setHappenAt('');
      props.onStarted();
    } catch (err) {
      setStartError(t('logs.startFailed', { reason: reasonOf(err) }));
    } finally {
      setStarting(false);
    }
  };

  return (
    <section class="card logs-card" data-testid="log-listing">
      <div class="card-head">
        <h2>{t('logs.onDevice')}</h2>
        <button type="button" onClick={() => setAttempt((n) => n + 1)} disabled={loading}>
          {t('logs.refresh')}
        </button>
      </div>
      <p class="muted small">{t('logs.onDeviceHelp')}</p>
      {loading && (
        <p class="loading-line" data-testid="log-listing-loading">
          <span class="spinner" aria-hidden="true" />
          {t('logs.listing')}
        </p>
      )}
      {error && !loading && (
        <p class="notice error" role="alert" data-testid="log-listing-error">
          {t('logs.listFailed', { reason: error })}
        </p>
      )}
      {listing && !loading && !error && (
        <form onSubmit={(e) => void submit(e)}>
          <div class="log-modules">
            {MODULES.map((m) => (
              <LogModuleSection
                key={m}
                module={m}
                entry={entryOf(m)}
                sn={entryOf(m)?.device_sn || (m === '3' ? dockSn : props.aircraftSn)}
                selected={selected[m]}
                onSelect={(next) => setSelected({ ...selected, [m]: next })}
              />
            ))}
          </div>
          <div class="logs-form">
            <label class="field field-grow">
              <span>{t('logs.description')}</span>
              <textarea
                name="logs_information"
                rows={2}
                maxLength={1000}
                placeholder={t('logs.descriptionPlaceholder')}
                value={description}
                onInput={(e) => setDescription(e.currentTarget.value)}
              />
            </label>
            <label class="field">
              <span>{t('logs.happenTime')}</span>
              <input
                type="datetime-local"
                name="happen_time"
                value={happenAt}
                onInput={(e) => setHappenAt(e.currentTarget.value)}
              />
            </label>
          </div>
          <div class="logs-submit">
            <span class="muted" data-testid="log-selection">
              {chosen.length === 0
                ? t('logs.nothingSelected')
                : t('logs.selected', { count: formatCount(chosen.length), size: formatBytes(chosenBytes) })}
            </span>
            <button type="submit" class="primary" disabled={starting || chosen.length === 0}>
              {starting ? t('logs.starting') : t('logs.upload')}
            </button>
          </div>
          {startError && (
            <p class="notice error" role="alert" data-testid="log-start-error">
              {startError}
            </p>
          )}
        </form>
      )}
    </section>
  );
}

/** A task with a progress message applied to it. */
function withProgress(task: DeviceLogs, output: LogProgressEvent['output']): DeviceLogs {
  const progress = [...task.logs_progress];
  for (const file of output.files ?? []) {
    const domain = String(file.device_model_domain) as LogModule;
    const at = progress.findIndex(
      (p) =>
        String(p.device_model_domain) === domain &&
        (!file.device_sn || !p.device_sn || p.device_sn === file.device_sn),
    );
    const merged: LogFileProgress = {
      ...(at >= 0 ? progress[at] : {}),
      ...file,
      device_model_domain: domain,
    };
    if (at >= 0) progress[at] = merged;
    else progress.push(merged);
  }
  return {
    ...task,
    status: output.task_status ?? taskStatusOf(output.status),
    reason: output.reason ?? task.reason,
    logs_progress: progress,
  };
}

interface FileRow {
  module: LogModule;
  sn: string;
  status: string | undefined;
  progress: number;
  rate: number;
  reason: string | null | undefined;
  result: number;
  size: number | null;
  sessions: number;
  fileId: string | undefined;
  uploaded: boolean;
}

/** One line per module of a task: the stored file (for its id and key) and its progress. */
function fileRows(task: DeviceLogs): FileRow[] {
  const files = task.device_logs?.files ?? [];
  const rows: FileRow[] = [];
  for (const m of MODULES) {
    const file = files.find((f) => String(f.module) === m);
    const progress = task.logs_progress.find((p) => String(p.device_model_domain) === m);
    if (!file && !progress) continue;
    const status = progress?.status ?? file?.status;
    rows.push({
      module: m,
      sn: file?.device_sn || progress?.device_sn || '',
      status,
      progress: Math.max(
        0,
        Math.min(100, progress?.progress ?? file?.progress ?? (status === 'ok' ? 100 : 0)),
      ),
      rate: progress?.upload_rate ?? 0,
      reason: progress?.reason,
      result: progress?.result ?? 0,
      size: file?.size ?? null,
      sessions: file?.list.length ?? 0,
      fileId: file?.file_id,
      uploaded: Boolean(file?.object_key),
    });
  }
  return rows;
}

function StatusPill({ status }: { status: LogTaskStatus }) {
  const kind = { 1: 'live', 2: 'ok', 3: '', 4: 'failed' }[status] ?? '';
  const key = `logs.status${status}` as MessageKey;
  return (
    <span class={`pill ${kind}`} data-status={status}>
      {isMessageKey(key) ? t(key) : String(status)}
    </span>
  );
}

function LogTask(props: {
  task: DeviceLogs;
  onDownload: (fileId: string) => void;
  onCancel: () => void;
  onDelete: () => void;
  cancelling: boolean;
}) {
  const { task } = props;
  const rows = fileRows(task);
  const uploading = task.status === 1;
  // Why it failed, in plain words: the task's reason, else its files', else the device's code.
  const fileReasons = rows.map((r) => r.reason).filter((r): r is string => Boolean(r));
  const why =
    task.reason ||
    fileReasons.join(' ') ||
    (task.result ? t('logs.errorCode', { code: task.result }) : '') ||
    rows
      .filter((r) => r.result)
      .map((r) => t('logs.errorCode', { code: r.result }))
      .join(' ');
  return (
    <li class={`log-task status-${task.status}`} data-logs-id={task.logs_id}>
      <div class="log-task-head">
        <StatusPill status={task.status} />
        <span class="log-task-time">{formatDateTime(task.created_at)}</span>
        <span class="muted small">{t('logs.by', { user: task.user_name })}</span>
        <span class="log-task-actions">
          {uploading && (
            <button type="button" onClick={props.onCancel} disabled={props.cancelling}>
              {t('logs.cancel')}
            </button>
          )}
          <button type="button" class="danger-outline" onClick={props.onDelete}>
            {t('logs.delete')}
          </button>
        </span>
      </div>
      <p class={task.logs_information ? 'log-task-info' : 'log-task-info muted'}>
        {task.logs_information || t('logs.noDescription')}
        {task.happen_time && (
          <span class="muted small"> · {t('logs.happened', { time: task.happen_time })}</span>
        )}
      </p>
      {task.status === 4 && why && (
        <p class="notice error small" data-testid="log-task-reason">
          {t('logs.failedWhy', { reason: why })}
        </p>
      )}
      <ul class="log-files">
        {rows.map((row) => (
          <li key={row.module} class="log-file" data-module={row.module}>
            <span class="log-file-name">
              <strong>{moduleLabel(row.module)}</strong>
              {row.sn && <code>{row.sn}</code>}
            </span>
            <span class="log-file-state">
              <span class={`log-file-status file-${row.status ?? 'unknown'}`}>
                {fileStatusText(row.status)}
              </span>
              {uploading && !FILE_ENDED.has(row.status ?? '') ? (
                UPLOAD_PHASES.has(row.status ?? '') ? (
                  <>
                    <progress key="upload" max={100} value={row.progress} />
                    <span class="percent" data-testid="log-file-percent">
                      {Math.round(row.progress)}%
                    </span>
                    {row.rate > 0 && (
                      <span class="muted small">{t('logs.rate', { rate: formatBytes(row.rate) })}</span>
                    )}
                  </>
                ) : (
                  // Pulling and compressing on the dock: their percent is the step's, not the file's.
                  <progress key="busy" max={100} />
                )
              ) : null}
              {(!uploading || FILE_ENDED.has(row.status ?? '')) &&
                (row.sessions > 0 || row.size !== null) && (
                  <span class="muted small">
                    {[
                      row.sessions === 0
                        ? ''
                        : row.sessions === 1
                          ? t('logs.sessionsOne')
                          : t('logs.sessions', { count: formatCount(row.sessions) }),
                      row.size === null ? '' : formatBytes(row.size),
                    ]
                      .filter(Boolean)
                      .join(t('logs.listSeparator'))}
                  </span>
                )}
            </span>
            {row.uploaded && row.fileId && (
              <button type="button" class="log-download" onClick={() => props.onDownload(row.fileId!)}>
                {t('logs.download')}
              </button>
            )}
          </li>
        ))}
      </ul>
    </li>
  );
}

/** The dock's uploads, newest first, moved live by `fileupload_progress`. */
function LogHistory(props: { workspaceId: string; dockSn: string; version: number }) {
  const { workspaceId, dockSn } = props;
  const [page, setPage] = useState(1);
  const [status, setStatus] = useState('');
  const [text, setText] = useState('');
  const [search, setSearch] = useState('');
  const [data, setData] = useState<DeviceLogsPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  const [deleting, setDeleting] = useState<DeviceLogs | null>(null);
  const [cancelling, setCancelling] = useState<string | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  /** Tasks a live message said are over, with how many more reloads may still show them running. */
  const ended = useRef(new Map<string, number>());
  /** Unknown tasks already reloaded for once. */
  const asked = useRef(new Set<string>());
  const reload = () => setReloads((n) => n + 1);

  useEffect(() => {
    const timer = setTimeout(() => {
      setSearch(text.trim());
      setPage(1);
    }, 300);
    return () => clearTimeout(timer);
  }, [text]);

  useEffect(() => {
    let current = true;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const params = { page, page_size: PAGE_SIZE, status: status || undefined, logs_information: search };
    call<DeviceLogsPage>('GET', `${devicePaths.logsUploaded(workspaceId, dockSn)}${query(params)}`)
      .then((answer) => {
        if (!current) return;
        // A task the live link said is over may still read as running for a moment: keep what the live
        // link said and ask again.
        const stale = new Set(
          answer.list
            .filter((task) => task.status === 1 && (ended.current.get(task.logs_id) ?? 0) > 0)
            .map((task) => task.logs_id),
        );
        for (const id of stale) ended.current.set(id, (ended.current.get(id) ?? 1) - 1);
        if (stale.size > 0) retry = setTimeout(reload, 1000);
        const known = new Map(dataRef.current?.list.map((task) => [task.logs_id, task]));
        setData({
          ...answer,
          list: answer.list.map((task) =>
            stale.has(task.logs_id) ? (known.get(task.logs_id) ?? task) : task,
          ),
        });
        setError(null);
      })
      .catch((e: unknown) => current && setError(reasonOf(e)));
    return () => {
      current = false;
      clearTimeout(retry);
    };
  }, [workspaceId, dockSn, page, status, search, props.version, reloads]);

  useEffect(
    () =>
      onLive((message) => {
        if (message.biz_code !== 'fileupload_progress') return;
        const event = message.data as unknown as LogProgressEvent;
        const output = event.output;
        if (event.sn !== dockSn || !output?.logs_id) return;
        const task = dataRef.current?.list.find((x) => x.logs_id === output.logs_id);
        if (!task) {
          if (!asked.current.has(output.logs_id)) {
            asked.current.add(output.logs_id);
            reload();
          }
          return;
        }
        const updated = withProgress(task, output);
        setData(
          (prev) =>
            prev && { ...prev, list: prev.list.map((x) => (x.logs_id === task.logs_id ? updated : x)) },
        );
        if (updated.status !== 1) {
          ended.current.set(task.logs_id, 5);
          reload();
        }
      }),
    [dockSn],
  );

  // Without the live link, running uploads are polled instead.
  const running = data?.list.some((x) => x.status === 1) ?? false;
  const live = liveConnected.value;
  useEffect(() => {
    if (!running || live) return undefined;
    const timer = setInterval(reload, 5000);
    return () => clearInterval(timer);
  }, [running, live]);

  const download = async (task: DeviceLogs, fileId: string) => {
    try {
      const url = await call<string>('GET', devicePaths.logsFileUrl(workspaceId, task.logs_id, fileId));
      const a = document.createElement('a');
      a.href = url;
      a.download = '';
      a.rel = 'noopener';
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      showToast(t('logs.downloadFailed', { reason: reasonOf(e) }), true);
    }
  };

  const cancel = async (task: DeviceLogs) => {
    const modules = [
      ...new Set([
        ...(task.device_logs?.files ?? []).map((f) => String(f.module)),
        ...task.logs_progress.map((p) => String(p.device_model_domain)),
      ]),
    ].filter((m): m is LogModule => m === '0' || m === '3');
    setCancelling(task.logs_id);
    try {
      await call('DELETE', devicePaths.logs(workspaceId, dockSn), {
        status: 'cancel',
        module_list: modules.length > 0 ? modules : MODULES,
      });
      showToast(t('logs.cancelRequested'));
    } catch (e) {
      showToast(t('logs.cancelFailed', { reason: reasonOf(e) }), true);
    } finally {
      setCancelling(null);
      reload();
    }
  };

  const remove = async (task: DeviceLogs) => {
    setDeleting(null);
    try {
      await call('DELETE', devicePaths.logsTask(workspaceId, dockSn, task.logs_id));
      showToast(t('logs.deleted'));
    } catch (e) {
      showToast(t('logs.deleteFailed', { reason: reasonOf(e) }), true);
    }
    reload();
  };

  const total = data?.pagination.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / (data?.pagination.page_size || PAGE_SIZE)));
  const filtered = Boolean(status || search);
  return (
    <section class="card logs-card" data-testid="log-history">
      <div class="card-head">
        <h2>{t('logs.history')}</h2>
        <div class="history-filters">
          <select
            aria-label={t('logs.filterStatus')}
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
              setPage(1);
            }}
          >
            <option value="">{t('logs.filterAll')}</option>
            {([1, 2, 3, 4] as const).map((s) => (
              <option key={s} value={String(s)}>
                {t(`logs.status${s}`)}
              </option>
            ))}
          </select>
          <input
            type="search"
            placeholder={t('logs.search')}
            aria-label={t('logs.search')}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </div>
      </div>
      {error && <p class="notice error">{t('logs.historyFailed', { reason: error })}</p>}
      {!data && !error && <p class="muted">{t('logs.historyLoading')}</p>}
      {data && data.list.length === 0 && (
        <p class="muted">{filtered ? t('logs.historyNoMatch') : t('logs.historyEmpty')}</p>
      )}
      {data && data.list.length > 0 && (
        <ul class="log-tasks">
          {data.list.map((task) => (
            <LogTask
              key={task.logs_id}
              task={task}
              cancelling={cancelling === task.logs_id}
              onDownload={(fileId) => void download(task, fileId)}
              onCancel={() => void cancel(task)}
              onDelete={() => setDeleting(task)}
            />
          ))}
        </ul>
      )}
      {pages > 1 && (
        <div class="pager">
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            {t('logs.newer')}
          </button>
          <span class="muted small">{t('logs.page', { page, pages })}</span>
          <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)}>
            {t('logs.older')}
          </button>
        </div>
      )}
      {deleting && (
        <Confirm
          text={t('logs.deleteConfirm')}
          onConfirm={() => void remove(deleting)}
          onCancel={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

/** The page of one dock's remote logs. */
export function DeviceLogsView({ workspaceId, dockSn }: { workspaceId: string; dockSn: string }) {
  const [dock, setDock] = useState<Device | null>(null);
  const [dockError, setDockError] = useState<string | null>(null);
  const [historyVersion, setHistoryVersion] = useState(0);
  const version = devicesVersion.value;
  useEffect(() => {
    let current = true;
    call<Device>('GET', devicePaths.device(workspaceId, dockSn))
      .then((device) => {
        if (!current) return;
        setDock(device);
        setDockError(null);
      })
      .catch((e: unknown) => {
        if (!current) return;
        setDockError(e instanceof ApiError && e.status === 404 ? t('logs.notBound') : reasonOf(e));
      });
    return () => {
      current = false;
    };
  }, [workspaceId, dockSn, version]);

  const named = dock && dock.nickname && dock.nickname !== dock.device_sn;
  return (
    <div class="page logs-page" data-testid="device-logs">
      <a class="back-link" href="/devices">
        ← {t('logs.back')}
      </a>
      <div class="page-head">
        <h1>{t('logs.title')}</h1>
        <span class="logs-dock">
          {dock && <strong>{dock.device_name}</strong>}
          {named && <span>{dock.nickname}</span>}
          <code>{dockSn}</code>
          {dock && <OnlineState online={dock.status} />}
        </span>
      </div>
      {dockError && <p class="notice error">{dockError}</p>}
      {dock && !dock.status && <p class="notice">{t('logs.dockOffline')}</p>}
      <LogListing
        workspaceId={workspaceId}
        dockSn={dockSn}
        aircraftSn={dock?.children?.device_sn}
        onStarted={() => setHistoryVersion((n) => n + 1)}
      />
      <LogHistory workspaceId={workspaceId} dockSn={dockSn} version={historyVersion} />
    </div>
  );
}
