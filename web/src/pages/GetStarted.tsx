// What to do next on an empty installation, at the top of the dashboard: with no project, create
// one; with projects but nothing to measure yet, add components to one. Each action is one click
// (the projects page opens its "New project" form for `?new=1`, the canvas its "Add component"
// form for `?add=1`). Viewers are told what will appear instead. Gone once there is progress.
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, data } from '../api/client';
import { useSession } from '../app/session';

export function GetStarted() {
  const { canEdit } = useSession();
  const first = useQuery({
    queryKey: ['projects', 'first'],
    queryFn: () => data(api.GET('/api/v1/projects', { params: { query: { limit: 1 } } })),
    select: (r) => ({ total: r.total }),
  });
  const progress = useQuery({
    queryKey: ['dashboard', 'progress'],
    queryFn: () => data(api.GET('/api/v1/projects/progress')),
  });
  if (!first.data || !progress.data) return null;
  // The newest open project, while none has a component.
  const open = progress.data.projects;
  const project = open.some((p) => p.components > 0) ? undefined : open[0];
  if (first.data.total > 0 && !project) return null;

  return (
    <section className="panel get-started" aria-labelledby="get-started-title" data-testid="get-started">
      <h2 id="get-started-title">{project ? 'Next: add components' : 'Welcome to TaylorDash'}</h2>
      {!canEdit ? (
        <p>
          {project
            ? 'The projects have no components yet, so there is no progress to show.'
            : 'There are no projects yet.'}{' '}
          Your role is viewer: an editor or an admin adds them, and they appear here as they do.
        </p>
      ) : !project ? (
        <>
          <p>
            Nothing to show yet. Start with a project (a build, a rack, a network), then add its
            components on the canvas; the dashboard follows them live.
          </p>
          <Link className="btn btn-primary" to="/projects?new=1">
            Create a project
          </Link>
        </>
      ) : (
        <>
          <p>
            “{project.name}” has no components yet. Add its parts (services, devices, tasks to do) on
            the canvas to see progress here.
          </p>
          <Link className="btn btn-primary" to={`/projects/${project.id}/canvas?add=1`}>
            Add components to “{project.name}”
          </Link>
        </>
      )}
    </section>
  );
}
