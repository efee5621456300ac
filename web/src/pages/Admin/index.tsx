// Administration (/admin, admins only): users, sign-in settings, alerting (channels and rules)
// and the audit log. The tab is in the URL.
import { useSearchParams } from 'react-router';
import { useSession } from '../../app/session';
import { ErrorMessage } from '../../app/ui';
import { TabPanel, Tabs } from '../Events/shared';
import { AlertingTab } from './AlertingTab';
import { AuditTab } from './AuditTab';
import { SignInTab } from './SignInTab';
import { UsersTab } from './UsersTab';
import './admin.css';

type Tab = 'users' | 'sign-in' | 'alerting' | 'audit';

export default function AdminPage() {
  const [sp, setSp] = useSearchParams();
  const { isAdmin } = useSession();
  const t = sp.get('tab');
  const tab: Tab = t === 'audit' || t === 'sign-in' || t === 'alerting' ? t : 'users';
  if (!isAdmin) return <ErrorMessage error={new Error('Administration is for admins only.')} />;
  return (
    <div className="admin-page">
      <div className="page-head">
        <h1>Administration</h1>
      </div>
      <Tabs<Tab>
        label="Administration sections"
        idPrefix="admin"
        active={tab}
        onChange={(t) => setSp(t === 'users' ? {} : { tab: t })}
        tabs={[
          { id: 'users', label: 'Users' },
          { id: 'sign-in', label: 'Sign-in' },
          { id: 'alerting', label: 'Alerting' },
          { id: 'audit', label: 'Audit log' },
        ]}
      />
      <TabPanel idPrefix="admin" active={tab}>
        {tab === 'users' && <UsersTab />}
        {tab === 'sign-in' && <SignInTab />}
        {tab === 'alerting' && <AlertingTab />}
        {tab === 'audit' && <AuditTab />}
      </TabPanel>
    </div>
  );
}
