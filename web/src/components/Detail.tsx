import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { ApiError, call, type MediaDetail, paths } from '../api.ts';
import { formatBytes, formatCoordinate, formatDateTime, formatDuration } from '../format.ts';
import { t } from '../i18n.ts';
import { can } from '../roles.ts';

interface Props {
  workspaceId: string;
  fileId: string;
  onClose: () => void;
  onDelete: (file: MediaDetail) => void;
  onMove?: ((step: 1 | -1) => void) | undefined;
  onShowOnMap?: ((file: MediaDetail) => void) | undefined;
}

/** One file, large: its preview (or the video itself, played from storage), and what is known of it. */
export function Detail({ workspaceId, fileId, onClose, onDelete, onMove, onShowOnMap }: Props) {
  const [file, setFile] = useState<MediaDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    setFile(null);
    setError(null);
    call<MediaDetail>('GET', paths.file(workspaceId, fileId))
      .then((value) => current && setFile(value))
      .catch((e: unknown) => current && setError(e instanceof ApiError ? e.message : String(e)));
    return () => {
      current = false;
    };
  }, [workspaceId, fileId]);

  // A layout effect: registered before the detail is painted (see Dialog.tsx).
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (document.querySelector('.dialog')) return;
      if (e.key === 'Escape') onClose();
      else if (e.key === 'ArrowRight') onMove?.(1);
      else if (e.key === 'ArrowLeft') onMove?.(-1);
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [onClose, onMove]);

  return (
    <div class="overlay detail-overlay" role="presentation" onClick={onClose}>
      <section
        class="detail"
        role="dialog"
        aria-modal="true"
        aria-label={file?.name ?? fileId}
        onClick={(e) => e.stopPropagation()}
      >
        <div class="detail-media">
          {onMove && (
            <button
              type="button"
              class="nav-arrow prev"
              aria-label={t('detail.previous')}
              onClick={() => onMove(-1)}
            >
              ‹
            </button>
          )}
          {error && <p class="error">{t('detail.loadFailed', { reason: error })}</p>}
          {file && <Viewer file={file} />}
          {onMove && (
            <button
              type="button"
              class="nav-arrow next"
              aria-label={t('detail.next')}
              onClick={() => onMove(1)}
            >
              ›
            </button>
          )}
        </div>
        <aside class="detail-info">
          <div class="detail-head">
            <h2 title={file?.name}>{file?.name ?? ''}</h2>
            <button type="button" class="icon-button" aria-label={t('detail.close')} onClick={onClose}>
              ×
            </button>
          </div>
          {file && (
            <>
              <div class="detail-actions">
                <a class="button primary" href={file.download_url} download={file.name}>
                  {t('detail.download')}
                </a>
                {can('library.write') && (
                  <button type="button" class="danger-outline" onClick={() => onDelete(file)}>
                    {t('detail.delete')}
                  </button>
                )}
              </div>
              <Metadata file={file} onShowOnMap={onShowOnMap} />
            </>
          )}
        </aside>
      </section>
    </div>
  );
}

function Viewer({ file }: { file: MediaDetail }) {
  if (file.media_type === 'video') {
    return (
      <video
        key={file.id}
        class="detail-video"
        controls
        preload="metadata"
        poster={file.preview_url ?? undefined}
        src={file.stream_url}
        data-testid="detail-video"
      />
    );
  }
  const image = file.preview_url ?? (file.media_type === 'image' ? file.stream_url : null);
  if (!image) return <p class="muted">{t('detail.noPreview')}</p>;
  return <img key={file.id} class="detail-image" src={image} alt={file.name} data-testid="detail-image" />;
}

function Metadata({
  file,
  onShowOnMap,
}: {
  file: MediaDetail;
  onShowOnMap?: ((f: MediaDetail) => void) | undefined;
}) {
  const rows: [string, ComponentChildren][] = [];
  if (file.captured_time_local) {
    rows.push([
      t('detail.captured'),
      <>
        {file.captured_time_local.replace('T', ' ')}
        {file.captured_time_is_device_local && <div class="muted small">{t('detail.deviceLocal')}</div>}
      </>,
    ]);
  } else if (file.captured_at !== null) {
    rows.push([t('detail.captured'), formatDateTime(file.captured_at)]);
  }
  rows.push([t('detail.recorded'), formatDateTime(file.created_at)]);
  if (file.latitude !== null && file.longitude !== null) {
    rows.push([
      t('detail.position'),
      <>
        {formatCoordinate(file.latitude, 'N', 'S')}, {formatCoordinate(file.longitude, 'E', 'W')}
        {onShowOnMap && (
          <div>
            <button type="button" class="link-button" onClick={() => onShowOnMap(file)}>
              {t('detail.showOnMap')}
            </button>
          </div>
        )}
      </>,
    ]);
  } else {
    rows.push([t('detail.position'), <span class="muted">{t('detail.noPosition')}</span>]);
  }
  if (file.absolute_altitude !== null)
    rows.push([t('detail.absoluteAltitude'), `${file.absolute_altitude.toFixed(1)} m`]);
  if (file.relative_altitude !== null)
    rows.push([t('detail.relativeAltitude'), `${file.relative_altitude.toFixed(1)} m`]);
  if (file.gimbal_yaw_degree !== null)
    rows.push([t('detail.gimbalYaw'), `${file.gimbal_yaw_degree.toFixed(1)}°`]);
  if (file.drone_sn || file.drone_name) {
    rows.push([t('detail.aircraft'), [file.drone_name, file.drone_sn].filter(Boolean).join(' · ')]);
  }
  if (file.payload_name || file.payload_model_key) {
    rows.push([t('detail.camera'), file.payload_name ?? file.payload_model_key]);
  }
  rows.push([t('detail.size'), formatBytes(file.size)]);
  if (file.duration_ms !== null) rows.push([t('detail.duration'), formatDuration(file.duration_ms)]);
  rows.push([t('detail.original'), file.is_original ? t('detail.originalYes') : t('detail.originalNo')]);
  if (file.file_group_id) rows.push([t('detail.group'), <code>{file.file_group_id}</code>]);
  rows.push([t('detail.source'), file.source === 'dock' ? t('detail.sourceDock') : t('detail.sourcePilot')]);
  return (
    <dl class="metadata">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
