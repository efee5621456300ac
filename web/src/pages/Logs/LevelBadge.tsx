import { Badge } from '../../app/ui';

const TONE = { ERROR: 'bad', WARN: 'warn', INFO: 'info' } as const;

export function LevelBadge({ level }: { level: string }) {
  return <Badge tone={TONE[level as keyof typeof TONE]}>{level}</Badge>;
}
