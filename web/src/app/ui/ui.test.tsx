import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { ConfirmAction, Drawer, useConfirm } from '.';

// jsdom has <dialog> but not its modal methods: open and close it as a browser would.
beforeAll(() => {
  const proto = HTMLDialogElement.prototype;
  proto.showModal ??= function (this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
  proto.close ??= function (this: HTMLDialogElement) {
    this.removeAttribute('open');
    this.dispatchEvent(new Event('close'));
  };
});
afterEach(cleanup);

describe('Drawer', () => {
  function drawer(onClose = vi.fn()) {
    render(
      <Drawer title="Event #7" closeLabel="Close event detail" onClose={onClose} className="wide">
        <p>detail</p>
      </Drawer>,
    );
    return { onClose, dialog: screen.getByRole('dialog', { name: 'Event #7' }) };
  }

  it("is an open dialog named by its title, with the page's class", () => {
    const { dialog } = drawer();
    expect(dialog.hasAttribute('open')).toBe(true);
    expect(dialog.className).toBe('drawer wide');
    expect(screen.getByRole('heading', { name: 'Event #7' })).toBeTruthy();
    expect(screen.getByText('detail')).toBeTruthy();
  });

  it('closes from the button, Escape and the backdrop, not from a click inside', () => {
    const { onClose, dialog } = drawer();
    fireEvent.click(screen.getByText('detail'));
    expect(onClose).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: 'Close event detail' }));
    expect(onClose).toHaveBeenCalledTimes(1);
    // Escape on a modal <dialog> fires `cancel`.
    fireEvent(dialog, new Event('cancel', { cancelable: true }));
    expect(onClose).toHaveBeenCalledTimes(2);
    fireEvent.click(dialog);
    expect(onClose).toHaveBeenCalledTimes(3);
  });
});

describe('ConfirmAction', () => {
  function Row({ onConfirm }: { onConfirm: () => void }) {
    const [confirm, dialog] = useConfirm();
    return (
      <>
        {dialog}
        <ConfirmAction
          confirm={confirm}
          question={{ title: 'Delete user vera?', confirmLabel: 'Delete user', danger: true }}
          onConfirm={onConfirm}
          aria-label="Delete vera"
        >
          Delete
        </ConfirmAction>
      </>
    );
  }

  it('is a danger button that asks first and acts only on yes', async () => {
    const onConfirm = vi.fn();
    render(<Row onConfirm={onConfirm} />);
    const button = screen.getByRole('button', { name: 'Delete vera' });
    expect(button.className).toContain('btn-danger');

    fireEvent.click(button);
    fireEvent.click(await screen.findByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Delete user vera?' })).toBeNull());
    expect(onConfirm).not.toHaveBeenCalled();

    fireEvent.click(button);
    await screen.findByRole('heading', { name: 'Delete user vera?' });
    fireEvent.click(screen.getByRole('button', { name: 'Delete user' }));
    await waitFor(() => expect(onConfirm).toHaveBeenCalledTimes(1));
  });
});
