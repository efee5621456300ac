// Events (/events): Live, History and Dead letters tabs. Everything that matters for a link is in
// the URL: `tab`, the live `filter`, the history filters and `cursor`, and `event` (open detail).
import { useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import type { LiveEvent } from '../../live/stream';
import { Badge } from '../../app/ui';
import { DeadLettersTab, useDeadLetters } from './DeadLettersTab';
import { EventDrawer, eventKey } from './EventDrawer';
import { HistoryTab } from './HistoryTab';
import { LiveTab } from './LiveTab';
import { withParam } from '../../app/ui/filters';
import { parseCursor, parseHistory, parseLiveFilter, parseTab, withHistory, type Tab } from './params';
import { TabPanel, Tabs } from './shared';
import './events.css';

export default function EventsPage() {
  const [sp, setSp] = useSearchParams();
  const qc = useQueryClient();
  const tab = parseTab(sp);
  const openId = Number(sp.get('event'));
  const dlq = useDeadLetters(undefined);
  const pending = dlq.data?.pending;

  const setTab = (t: Tab) => {
    const next = new URLSearchParams();
    // Switching tabs keeps only that tab's own state.
    if (t === 'live' && sp.get('filter')) next.set('filter', sp.get('filter') as string);
    if (t === 'history') for (const [k, v] of sp) if (k !== 'tab' && k !== 'event' && k !== 'filter') next.set(k, v);
    next.set('tab', t);
    setSp(next);
  };
  const openEvent = (e: LiveEvent) => {
    qc.setQueryData(eventKey(e.id), e);
    setSp(withParam(sp, 'event', String(e.id)));
  };

  return (
    <div className="events-page">
      <div className="page-head">
        <h1>Events</h1>
        <span className="muted">Everything that happened on the event bus, live and stored.</span>
      </div>
      <Tabs<Tab>
        label="Event views"
        idPrefix="events"
        active={tab}
        onChange={setTab}
        tabs={[
          { id: 'live', label: 'Live' },
          { id: 'history', label: 'History' },
          {
            id: 'dlq',
            label: (
              <>
                Dead letters
                {pending !== undefined && (
                  <Badge tone={pending > 0 ? 'bad' : undefined}>
                    <span className="sr-only">pending: </span>
                    {pending}
                  </Badge>
                )}
              </>
            ),
          },
        ]}
      />
      <TabPanel idPrefix="events" active={tab}>
        {tab === 'live' && (
          <LiveTab
            filter={parseLiveFilter(sp)}
            onFilter={(f) => setSp(withParam(sp, 'filter', f === '#' ? null : f))}
            onOpen={openEvent}
          />
        )}
        {tab === 'history' && (
          <HistoryTab
            filters={parseHistory(sp)}
            cursor={parseCursor(sp)}
            onApply={(f) => setSp(withHistory(sp, f))}
            onCursor={(c) => setSp(withParam(sp, 'cursor', c === undefined ? null : String(c)))}
            onOpen={openEvent}
          />
        )}
        {tab === 'dlq' && <DeadLettersTab onOpenEvent={(id) => setSp(withParam(sp, 'event', String(id)))} />}
      </TabPanel>
      {Number.isInteger(openId) && openId > 0 && (
        <EventDrawer key={openId} id={openId} onClose={() => setSp(withParam(sp, 'event', null))} />
      )}
    </div>
  );
}
