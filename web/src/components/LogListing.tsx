/**
 * What a dock and its aircraft hold (asked of the dock itself, which takes a few seconds), and the form
 * that uploads chosen boot sessions of it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  call,
  devicePaths,
  type LogBoot,
  type LogListing as LogListingAnswer,
  type LogModule,
  query,
  reasonOf,
} from '../api.ts';
import { formatBytes, formatCount, formatDateTime, formatTimeRange } from '../format.ts';
import { t } from '../i18n.ts';
import { MODULES, moduleLabel } from '../logs.ts';
import { can } from '../roles.ts';
import { showToast } from '../state.ts';

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
  /** Listed only, nothing to choose (a viewer may not upload). */
  readOnly?: boolean;
}) {
  const { module, entry, selected, onSelect, readOnly } = props;
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
          {!readOnly && (
            <label class="check select-all">
              <Checkbox
                checked={all}
                indeterminate={some}
                onChange={(on) => onSelect(on ? new Set(boots.map((b) => b.boot_index)) : new Set())}
              />
              {t('logs.selectAll', { count: formatCount(boots.length) })}
            </label>
          )}
          <ul class="boots">
            {boots.map((boot) => (
              <li key={boot.boot_index}>
                <label
                  class={readOnly ? 'check boot read-only' : 'check boot'}
                  data-boot-index={boot.boot_index}
                >
                  {!readOnly && (
                    <Checkbox checked={selected.has(boot.boot_index)} onChange={(on) => toggle(boot, on)} />
                  )}
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
export function LogListing(props: {
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
  const writable = can('devices.write');

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
      <p class="muted small">{writable ? t('logs.onDeviceHelp') : t('logs.onDeviceHelpReadOnly')}</p>
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
      {listing && !loading && !error && !writable && (
        <div class="log-modules" data-testid="log-modules-read-only">
          {MODULES.map((m) => (
            <LogModuleSection
              key={m}
              module={m}
              entry={entryOf(m)}
              sn={entryOf(m)?.device_sn || (m === '3' ? dockSn : props.aircraftSn)}
              selected={selected[m]}
              onSelect={() => undefined}
              readOnly
            />
          ))}
        </div>
      )}
      {listing && !loading && !error && writable && (
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
