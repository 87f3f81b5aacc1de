import { useState } from 'preact/hooks';
import { ApiError, call, type MediaDetail, paths } from '../api.ts';
import { t } from '../i18n.ts';
import { mediaVersion } from '../live.ts';
import { showToast } from '../state.ts';
import { Confirm } from './Confirm.tsx';
import { Detail } from './Detail.tsx';

/** Deletes files after the user confirmed; answers the ids deleted. */
export async function deleteFiles(workspaceId: string, ids: string[]): Promise<string[]> {
  try {
    const { deleted } = await call<{ deleted: string[] }>('DELETE', paths.media(workspaceId), {
      file_ids: ids,
    });
    showToast(deleted.length === 1 ? t('delete.doneOne') : t('delete.done', { count: deleted.length }));
    mediaVersion.value += 1;
    return deleted;
  } catch (e) {
    showToast(t('delete.failed', { reason: e instanceof ApiError ? e.message : String(e) }), true);
    return [];
  }
}

interface Props {
  workspaceId: string;
  fileId: string;
  onClose: () => void;
  onDeleted: (ids: string[]) => void;
  onMove?: ((step: 1 | -1) => void) | undefined;
  onShowOnMap?: ((file: MediaDetail) => void) | undefined;
}

/** The detail view with its delete confirmation. */
export function FileDialog({ workspaceId, fileId, onClose, onDeleted, onMove, onShowOnMap }: Props) {
  const [confirming, setConfirming] = useState<MediaDetail | null>(null);
  return (
    <>
      <Detail
        workspaceId={workspaceId}
        fileId={fileId}
        onClose={onClose}
        onDelete={setConfirming}
        onMove={onMove}
        onShowOnMap={onShowOnMap}
      />
      {confirming && (
        <Confirm
          text={t('delete.confirmOne', { name: confirming.name })}
          onCancel={() => setConfirming(null)}
          onConfirm={() => {
            setConfirming(null);
            void deleteFiles(workspaceId, [confirming.id]).then((ids) => ids.length > 0 && onDeleted(ids));
          }}
        />
      )}
    </>
  );
}
