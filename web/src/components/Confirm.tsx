import { useLayoutEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.ts';

interface Props {
  text: string;
  /** The button that goes ahead ("Delete" unless told). */
  confirmLabel?: string;
  onConfirm: () => void;
  onCancel: () => void;
}

/** A confirmation for what cannot be undone; Escape or "Keep" cancels. */
export function Confirm({ text, confirmLabel, onConfirm, onCancel }: Props) {
  const keep = useRef<HTMLButtonElement>(null);
  // A layout effect: registered before the dialog is painted (see Dialog.tsx).
  useLayoutEffect(() => {
    keep.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onCancel();
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return (
    <div class="overlay" role="presentation" onClick={onCancel}>
      <div class="dialog" role="alertdialog" aria-modal="true" onClick={(e) => e.stopPropagation()}>
        <p>{text}</p>
        <div class="dialog-actions">
          <button type="button" ref={keep} onClick={onCancel}>
            {t('delete.cancel')}
          </button>
          <button type="button" class="danger" onClick={onConfirm}>
            {confirmLabel ?? t('delete.confirm')}
          </button>
        </div>
      </div>
    </div>
  );
}
