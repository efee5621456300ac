// A list of events, each row a button opening its detail.
import type { LiveEvent } from '../../live/stream';
import { formatTime } from './shared';

export function EventRows({
  events, onOpen, label, fresh,
}: { events: LiveEvent[]; onOpen: (e: LiveEvent) => void; label: string; fresh?: Set<number> }) {
  return (
    <ul className="event-list" aria-label={label}>
      <li className="event-head" aria-hidden="true">
        <span>Received</span>
        <span>Topic</span>
        <span>Kind</span>
        <span>Source</span>
      </li>
      {events.map((e) => (
        <li key={e.id} className={fresh?.has(e.id) ? 'event-new' : undefined}>
          <button type="button" className="event-row" onClick={() => onOpen(e)}>
            <span className="sr-only">Event {e.id}: </span>
            <time className="nowrap" dateTime={e.created_at}>
              {formatTime(e.created_at)}
            </time>
            <span className="topic mono">{e.topic}</span>
            <span className="kind mono">{e.kind}</span>
            <span className="source">{e.source}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
