// Settings (/settings): Profile (who am I, password), Sessions (mine, revoke), API keys.
// The tab is in the URL (`?tab=keys`).
import { useSearchParams } from 'react-router';
import { TabPanel, Tabs } from '../Events/shared';
import { ApiKeysTab } from './ApiKeysTab';
import { ProfileTab } from './ProfileTab';
import { SessionsTab } from './SessionsTab';
import './settings.css';

const TABS = ['profile', 'sessions', 'keys'] as const;
type Tab = (typeof TABS)[number];

export default function SettingsPage() {
  const [sp, setSp] = useSearchParams();
  const t = sp.get('tab');
  const tab: Tab = (TABS as readonly string[]).includes(t ?? '') ? (t as Tab) : 'profile';
  return (
    <div className="settings-page">
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      <Tabs<Tab>
        label="Settings sections"
        idPrefix="settings"
        active={tab}
        onChange={(next) => setSp(next === 'profile' ? {} : { tab: next })}
        tabs={[
          { id: 'profile', label: 'Profile' },
          { id: 'sessions', label: 'Sessions' },
          { id: 'keys', label: 'API keys' },
        ]}
      />
      <TabPanel idPrefix="settings" active={tab}>
        {tab === 'profile' && <ProfileTab />}
        {tab === 'sessions' && <SessionsTab />}
        {tab === 'keys' && <ApiKeysTab />}
      </TabPanel>
    </div>
  );
}
