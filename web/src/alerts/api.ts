// The alerts' calls to the API, their query keys, and `useLiveAlerts`: alert events on the live
// stream (`tracker/events/alerts/...`) and a reconnect refetch the alert lists, so the page and
// the shell's badge follow what fires without a reload.
import { useEffect, useRef } from 'react';
import type { Client } from 'openapi-fetch';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api as typedApi, data } from '../api/client';
import { useLiveEvents, useResync } from '../app/live';
import type { Alert, Channel, ChannelBody, Notification, Rule, RuleBody } from './logic';

export const ALERTS_KEY = ['alerts'] as const;
export const openAlertsKey = ['alerts', 'open'] as const;
export const recentAlertsKey = ['alerts', 'recent'] as const;
export const alertNotificationsKey = (id: string) => ['alerts', 'notifications', id] as const;
export const RULES_KEY = ['alert-rules'] as const;
export const CHANNELS_KEY = ['alert-channels'] as const;

// The bodies and answers are typed by the schema's components (several operations share
// parameter names, which the generated per-operation types mix).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = typedApi as unknown as Client<any>;
const alertPath = (alert_id: string) => ({ params: { path: { alert_id } } });
const rulePath = (rule_id: string) => ({ params: { path: { rule_id } } });
const channelPath = (channel_id: string) => ({ params: { path: { channel_id } } });

interface AlertList {
  alerts: Alert[];
  count: number;
  firing: number;
}

export const alertsApi = {
  open: (): Promise<AlertList> => data<any>(api.GET('/api/v1/alerts', { params: { query: { open: true, limit: 1000 } } })),
  recent: (): Promise<AlertList> => data<any>(api.GET('/api/v1/alerts', { params: { query: { limit: 200 } } })),
  notifications: async (id: string): Promise<Notification[]> =>
    (await data<any>(api.GET('/api/v1/alerts/{alert_id}/notifications', alertPath(id)))).notifications,
  acknowledge: (id: string, note: string): Promise<Alert> =>
    data<any>(api.POST('/api/v1/alerts/{alert_id}/acknowledge', { ...alertPath(id), body: { note: note || null } })),
  silence: (id: string, duration_secs: number, reason: string): Promise<Alert> =>
    data<any>(api.POST('/api/v1/alerts/{alert_id}/silence', { ...alertPath(id), body: { duration_secs, reason: reason || null } })),
  rules: async (): Promise<Rule[]> => (await data<any>(api.GET('/api/v1/alert-rules', {}))).rules,
  createRule: (body: RuleBody): Promise<Rule> => data<any>(api.POST('/api/v1/alert-rules', { body })),
  updateRule: (id: string, body: RuleBody): Promise<Rule> => data<any>(api.PUT('/api/v1/alert-rules/{rule_id}', { ...rulePath(id), body })),
  deleteRule: (id: string): Promise<void> => data<any>(api.DELETE('/api/v1/alert-rules/{rule_id}', rulePath(id))) as Promise<void>,
  channels: async (): Promise<Channel[]> => (await data<any>(api.GET('/api/v1/alert-channels', {}))).channels,
  createChannel: (body: ChannelBody): Promise<Channel & { signing_key?: string | null }> =>
    data<any>(api.POST('/api/v1/alert-channels', { body })),
  updateChannel: (id: string, body: ChannelBody): Promise<Channel> =>
    data<any>(api.PUT('/api/v1/alert-channels/{channel_id}', { ...channelPath(id), body })),
  deleteChannel: (id: string): Promise<void> =>
    data<any>(api.DELETE('/api/v1/alert-channels/{channel_id}', channelPath(id))) as Promise<void>,
  testChannel: (id: string): Promise<{ delivered: boolean }> =>
    data<any>(api.POST('/api/v1/alert-channels/{channel_id}/test', channelPath(id))),
};

/**
 * Keeps every alert query current from the live stream: an alert event refetches them (at most
 * every 300 ms), rule changes refetch the rules, and a reconnect refetches all.
 */
export function useLiveAlerts() {
  const client = useQueryClient();
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  useLiveEvents('tracker/events/alerts/#', () => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void client.invalidateQueries({ queryKey: ALERTS_KEY });
    }, 300);
  });
  useLiveEvents('tracker/events/alert_rules/#', () => void client.invalidateQueries({ queryKey: RULES_KEY }));
  useResync(() => void client.invalidateQueries({ queryKey: ALERTS_KEY }));
}

/** The open alerts (firing and pending), kept current by `useLiveAlerts` where it is mounted. */
export function useOpenAlerts(enabled = true) {
  return useQuery({ queryKey: openAlertsKey, queryFn: alertsApi.open, enabled });
}
