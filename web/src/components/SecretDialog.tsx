import { useRef, useState } from 'preact/hooks';
import { t } from '../i18n.ts';
import { Dialog } from './Dialog.tsx';

/**
 * Copies a text: the Clipboard API where the page may use it (HTTPS, localhost), else the selection of
 * the field itself, which works over plain HTTP on a LAN too.
 */
async function copyText(value: string, field: HTMLInputElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(value);
      return true;
    }
  } catch {
    // Refused (no permission): the selection below.
  }
  if (!field) return false;
  field.focus();
  field.select();
  return document.execCommand('copy');
}

/** A value to copy: read-only, selected at a click, with its Copy button. */
export function CopyField({ label, value, name }: { label: string; value: string; name: string }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = () =>
    void copyText(value, field.current).then((done) => {
      if (!done) return;
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    });
  return (
    <label class="field copy-field">
      <span>{label}</span>
      <span class="copy-row">
        <input
          ref={field}
          name={name}
          value={value}
          readOnly
          spellcheck={false}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          {copied ? t('connect.copied') : t('connect.copy')}
        </button>
      </span>
    </label>
  );
}

interface Props {
  title: string;
  text: string;
  fields: { label: string; value: string; name: string }[];
  onClose: () => void;
}

/** A password (or MQTT secret) the server answers once: shown here, never again. */
export function SecretDialog({ title, text, fields, onClose }: Props) {
  return (
    <Dialog title={title} onClose={onClose} testId="secret-dialog">
      <p>{text}</p>
      <div class="dialog-fields">
        {fields.map((f) => (
          <CopyField key={f.name} {...f} />
        ))}
      </div>
      <p class="notice small">{t('secret.once')}</p>
      <div class="dialog-actions">
        <button type="button" class="primary" onClick={onClose}>
          {t('secret.done')}
        </button>
      </div>
    </Dialog>
  );
}
