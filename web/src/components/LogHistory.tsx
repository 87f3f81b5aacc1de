/**
 * A dock's log uploads so far, with their live progress (`fileupload_progress` over the WebSocket),
 * downloads, cancel and delete.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  call,
  type DeviceLogs,
  type DeviceLogsPage,
  devicePaths,
  type LogFileProgress,
  type LogModule,
  type LogProgressEvent,
  type LogTaskStatus,
  query,
  reasonOf,
} from '../api.ts';
import { formatBytes, formatCount, formatDateTime } from '../format.ts';
import { isMessageKey, type MessageKey, t } from '../i18n.ts';
import { liveConnected, onLive } from '../live.ts';
import { MODULES, moduleLabel } from '../logs.ts';
import { can } from '../roles.ts';
import { showToast } from '../state.ts';
import { Confirm } from './Confirm.tsx';

const PAGE_SIZE = 20;
/** A file's statuses while the dock sends it to storage (its percent is the file's). */
const UPLOAD_PHASES = new Set(['file_uploading', 'in_progress', 'paused']);
/** A file's statuses once it is over. */
const FILE_ENDED = new Set(['ok', 'failed', 'canceled', 'rejected', 'timeout']);

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
          {uploading && can('devices.write') && (
            <button type="button" onClick={props.onCancel} disabled={props.cancelling}>
              {t('logs.cancel')}
            </button>
          )}
          {can('devices.write') && (
            <button type="button" class="danger-outline" onClick={props.onDelete}>
              {t('logs.delete')}
            </button>
          )}
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
export function LogHistory(props: { workspaceId: string; dockSn: string; version: number }) {
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
