import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';

interface Props {
  title: string;
  /** Escape (and the caller's own Cancel button) closes; a click beside it does not, to keep typing. */
  onClose: () => void;
  children: ComponentChildren;
  testId?: string;
  wide?: boolean;
}

/** A modal dialog with a title; its first field (else its first button) takes the focus. */
export function Dialog({ title, onClose, children, testId, wide }: Props) {
  const box = useRef<HTMLDivElement>(null);
  // A layout effect: registered before the browser paints the dialog, so a key pressed as soon as it
  // shows (a fast user, a test) is never lost.
  useLayoutEffect(() => {
    const first = box.current?.querySelector<HTMLElement>('input:not([readonly]), select, textarea, button');
    first?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return (
    <div class="overlay" role="presentation">
      <div
        ref={box}
        class={wide ? 'dialog dialog-wide' : 'dialog'}
        role="dialog"
        aria-modal="true"
        aria-labelledby="dialog-title"
        data-testid={testId}
      >
        <h2 id="dialog-title" class="dialog-title">
          {title}
        </h2>
        {children}
      </div>
    </div>
  );
}
