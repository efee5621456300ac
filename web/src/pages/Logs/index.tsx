// Log viewer (admins): stored log records (`GET /api/v1/logs`) filtered by level, service,
// category, text and time, paged with total/has_more, with a live tail and the hourly error rate.
//
// Live tail polls the first page every few seconds: log records are not published on the event
// stream (only domain events are), and a poll of one small page is cheap and survives restarts
// without any resync logic. The tail runs only on page 1 with no "until" bound, and pauses while
// the tab is hidden (react-query stops interval refetches in background tabs).
import { useEffect, useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, data } from '../../api/client';
import { Button, Empty, ErrorMessage, Loading, Options } from '../../app/ui';
import { parsePage, useFilterDraft, withPage, withParam } from '../../app/ui/filters';
import {
  LEVEL_CHOICES, NO_FILTERS, WARNINGS_AND_ERRORS, filterErrors, logsQuery, newIds, pageRange, parseFilters, parseOpen,
  withFilters, type LogFilters,
} from './params';
import { ErrorRateChart } from './ErrorRateChart';
import { LevelBadge } from './LevelBadge';
import { LogDrawer } from './LogDrawer';
import type { LogEntry } from './types';
import './logs.css';

export const TAIL_MS = 3000;
const STATS_HOURS = [6, 24, 72, 168];

export default function LogsPage() {
  const [sp, setSp] = useSearchParams();
  const filters = useMemo(() => parseFilters(sp), [sp]);
  const page = parsePage(sp);
  const open = parseOpen(sp);
  const [tail, setTail] = useState(true);
  const [hours, setHours] = useState(24);

  const stats = useQuery({
    queryKey: ['logs', 'stats', hours],
    queryFn: () => data(api.GET('/api/v1/logs/stats', { params: { query: { hours } } })),
    refetchInterval: tail ? 30_000 : false,
  });
  const services = useMemo(() => distinct(stats.data?.stats.map((s) => s.service), filters.service), [stats.data, filters.service]);
  const categories = useMemo(() => distinct(stats.data?.stats.map((s) => s.category), filters.category), [stats.data, filters.category]);

  const invalid = filterErrors(filters);
  const valid = Object.keys(invalid).length === 0;
  const query = logsQuery(filters, page);
  const tailing = tail && page === 1 && !filters.until;
  const q = useQuery({
    queryKey: ['logs', 'list', query],
    queryFn: () => data(api.GET('/api/v1/logs', { params: { query } })),
    enabled: valid,
    placeholderData: keepPreviousData,
    refetchInterval: tailing ? TAIL_MS : false,
  });

  // Rows that arrived since the previous poll of the same query are highlighted.
  const prev = useRef<{ key: string; rows: LogEntry[] } | null>(null);
  const [fresh, setFresh] = useState<Set<number>>(new Set());
  const key = JSON.stringify(query);
  useEffect(() => {
    if (!q.data || q.isPlaceholderData) return;
    const before = prev.current?.key === key ? prev.current.rows : undefined;
    setFresh(newIds(before, q.data.logs));
    prev.current = { key, rows: q.data.logs };
  }, [q.data, q.isPlaceholderData, key]);

  const apply = (f: LogFilters) => setSp(withFilters(sp, f));
  const goPage = (p: number) => setSp(withPage(sp, p));
  const openLog = (id: number | null) => setSp(withParam(sp, 'log', id === null ? null : String(id)), { replace: id === null });

  const range = q.data ? pageRange(q.data.offset, q.data.logs.length, q.data.total) : null;
  return (
    <section className="page lv-page" aria-labelledby="logs-title">
      <div className="lv-title">
        <h1 id="logs-title">Logs</h1>
        <label className="lv-hours">
          Chart range{' '}
          <select value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {STATS_HOURS.map((h) => (
              <option key={h} value={h}>
                {h < 48 ? `${h} hours` : `${h / 24} days`}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="panel lv-chart-panel">
        {stats.isPending && <Loading label="Loading statistics…" />}
        {stats.isError && <ErrorMessage error={stats.error} onRetry={() => void stats.refetch()} />}
        {stats.data && <ErrorRateChart rates={stats.data.error_rates} hours={stats.data.timeframe_hours} />}
      </div>

      <div className="lv-views" role="group" aria-label="Views">
        <Button
          aria-pressed={filters.level === WARNINGS_AND_ERRORS}
          variant={filters.level === WARNINGS_AND_ERRORS ? 'primary' : 'secondary'}
          onClick={() => apply({ ...filters, level: filters.level === WARNINGS_AND_ERRORS ? '' : WARNINGS_AND_ERRORS })}
        >
          Warnings and errors
        </Button>
        <span className="muted">
          Routine requests (the UI&rsquo;s files, health checks, metrics and polling) are logged at DEBUG only.
        </span>
      </div>

      <FilterForm filters={filters} services={services} categories={categories} onApply={apply} />

      <div className="lv-status">
        <label className="lv-tail">
          <input type="checkbox" checked={tail} onChange={(e) => setTail(e.target.checked)} /> Live tail
        </label>
        <span className="muted" role="status" data-testid="logs-status">
          {!valid
            ? ''
            : q.data && range
              ? q.data.total === 0
                ? 'No records'
                : `${range.from}–${range.to} of ${q.data.total}, newest first`
              : ''}
          {tail && !tailing && ' · tail paused (only on the first page without an "until" time)'}
          {tailing && q.data && ` · updated ${new Date(q.dataUpdatedAt).toLocaleTimeString()}`}
        </span>
      </div>

      {!valid && <ErrorMessage error={new Error(`The filters in the link are not valid: ${Object.values(invalid).join(' ')}`)} />}
      {valid && q.isPending && <Loading label="Loading log records…" />}
      {q.isError && <ErrorMessage error={q.error} onRetry={() => void q.refetch()} />}
      {q.data && (
        <>
          {q.data.logs.length === 0 ? (
            <Empty>{page === 1 ? 'No log records match these filters.' : 'No records on this page.'}</Empty>
          ) : (
            <LogTable logs={q.data.logs} fresh={fresh} onOpen={openLog} />
          )}
          <nav className="lv-pager" aria-label="Log pages">
            <Button onClick={() => goPage(1)} disabled={page === 1}>
              First
            </Button>
            <Button onClick={() => goPage(page - 1)} disabled={page === 1}>
              Previous
            </Button>
            <span className="muted">
              Page {page} of {range?.pages ?? 1}
            </span>
            <Button onClick={() => goPage(page + 1)} disabled={!q.data.has_more}>
              Next
            </Button>
          </nav>
        </>
      )}
      {open !== undefined && <LogDrawer key={open} id={open} onClose={() => openLog(null)} />}
    </section>
  );
}

/** Distinct non-empty values, sorted, always including the current selection. */
function distinct(values: string[] | undefined, current: string): string[] {
  const s = new Set((values ?? []).filter(Boolean));
  if (current) s.add(current);
  return [...s].sort();
}

function FilterForm({
  filters, services, categories, onApply,
}: { filters: LogFilters; services: string[]; categories: string[]; onApply: (f: LogFilters) => void }) {
  const { draft, setDraft, set, asIso } = useFilterDraft(filters);
  const [submitted, setSubmitted] = useState(false);
  const errors = submitted ? filterErrors(asIso) : {};
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (Object.keys(filterErrors(asIso)).length > 0) return;
    setSubmitted(false);
    onApply(asIso);
  };
  return (
    <form className="panel lv-filters" onSubmit={submit} aria-label="Log filters">
      <Field label="Level">
        {(p) => (
          <select {...p} value={draft.level} onChange={set('level')}>
            <option value="">All levels</option>
            <Options items={LEVEL_CHOICES} />
          </select>
        )}
      </Field>
      <Field label="Service">
        {(p) => (
          <select {...p} value={draft.service} onChange={set('service')}>
            <option value="">All services</option>
            <Options items={services} />
          </select>
        )}
      </Field>
      <Field label="Category">
        {(p) => (
          <select {...p} value={draft.category} onChange={set('category')}>
            <option value="">All categories</option>
            <Options items={categories} />
          </select>
        )}
      </Field>
      <Field label="Search">
        {(p) => <input {...p} type="search" value={draft.search} onChange={set('search')} placeholder="text in message or details" />}
      </Field>
      <Field label="Since" error={errors.since}>
        {(p) => <input {...p} type="datetime-local" value={draft.since} onChange={set('since')} />}
      </Field>
      <Field label="Until" error={errors.until}>
        {(p) => <input {...p} type="datetime-local" value={draft.until} onChange={set('until')} />}
      </Field>
      <div className="lv-actions">
        <Button type="submit" variant="primary">
          Apply filters
        </Button>
        <Button
          onClick={() => {
            setDraft(NO_FILTERS);
            setSubmitted(false);
            onApply(NO_FILTERS);
          }}
        >
          Reset
        </Button>
      </div>
    </form>
  );
}

function Field({
  label, error, children,
}: {
  label: string;
  error?: string;
  children: (p: { id: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={`lv-field${error ? ' lv-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, ...(error ? { 'aria-invalid': true, 'aria-describedby': `${id}-err` } : {}) })}
      {error && (
        <span id={`${id}-err`} className="lv-error">
          {error}
        </span>
      )}
    </div>
  );
}

function LogTable({ logs, fresh, onOpen }: { logs: LogEntry[]; fresh: Set<number>; onOpen: (id: number) => void }) {
  return (
    <div className="lv-table-wrap">
      <table className="lv-table">
        <caption className="sr-only">Log records, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Level</th>
            <th scope="col">Category</th>
            <th scope="col">Service</th>
            <th scope="col">Message</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {logs.map((l) => (
            <tr key={l.id} className={fresh.has(l.id) ? 'lv-new' : undefined} data-level={l.level}>
              <td className="lv-time">
                <time dateTime={l.timestamp}>{new Date(l.timestamp).toLocaleString()}</time>
              </td>
              <td>
                <LevelBadge level={l.level} />
              </td>
              <td>{l.category}</td>
              <td className="lv-muted">{l.service}</td>
              <td className="lv-msg">
                <button type="button" className="lv-open" onClick={() => onOpen(l.id)} title="Show the whole record">
                  {l.message}
                </button>
              </td>
              <td className="lv-num">{l.duration_ms != null ? `${l.duration_ms} ms` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

