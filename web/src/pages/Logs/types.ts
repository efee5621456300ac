import type { components } from '../../api/schema';

export type LogEntry = components['schemas']['LogEntry'];
export type LogList = components['schemas']['LogList'];
export type LogStats = components['schemas']['LogStatsResponse'];
