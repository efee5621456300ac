// Routes. Heavy screens are lazy chunks so the first load stays small.
// Ownership while the UI is being built: app/ + pages/Login|Setup|Dashboard|Projects|Kiosk (core),
// pages/Events|Settings|Admin (pages), canvas/ (canvas).
import { lazy, Suspense } from 'react';
import { BrowserRouter, Route, Routes } from 'react-router';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';

const CanvasPage = lazy(() => import('../canvas/CanvasPage'));

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 10_000, retry: 1, refetchOnWindowFocus: false } },
});

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <Suspense fallback={<p role="status">Loading…</p>}>
          <Routes>
            <Route path="/projects/:projectId/canvas" element={<CanvasPage />} />
            <Route path="*" element={<p>TaylorDash</p>} />
          </Routes>
        </Suspense>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
