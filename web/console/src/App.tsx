// The routes: sign-in and sign-up outside the layout, every other page lazily loaded inside it.

import { lazy, Suspense } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { useSession } from "./auth/session";
import { PageBoundary } from "./components/ErrorBoundary";
import { Layout } from "./components/Layout";
import { Loading } from "./components/ui";
import { afterSignIn } from "./lib/redirect";

const LoginPage = lazy(() => import("./pages/LoginPage"));
const SignupPage = lazy(() => import("./pages/SignupPage"));
const BotsPage = lazy(() => import("./pages/BotsPage"));
const BotPage = lazy(() => import("./pages/BotPage"));
const KnowledgePage = lazy(() => import("./pages/KnowledgePage"));
const KnowledgeBasePage = lazy(() => import("./pages/KnowledgeBasePage"));
const InboxPage = lazy(() => import("./pages/InboxPage"));
const AnalyticsPage = lazy(() => import("./pages/AnalyticsPage"));

/** Pages for signed-in users only; others go to /login and come back after (query and hash kept). */
function RequireSession() {
  const { status } = useSession();
  const location = useLocation();
  if (status === "loading") return <Loading />;
  if (status === "signed-out")
    return <Navigate to="/login" replace state={{ from: `${location.pathname}${location.search}${location.hash}` }} />;
  return <Layout />;
}

/** Sign-in pages; signed-in users go on to the app. */
function GuestOnly({ children }: { children: React.ReactNode }) {
  const { status } = useSession();
  const location = useLocation();
  const from = (location.state as { from?: unknown } | null)?.from;
  if (status === "loading") return <Loading />;
  if (status === "signed-in") return <Navigate to={afterSignIn(from)} replace />;
  return <>{children}</>;
}

export function App() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/login" element={<GuestOnly><PageBoundary><Suspense fallback={<Loading />}><LoginPage /></Suspense></PageBoundary></GuestOnly>} />
        <Route path="/signup" element={<GuestOnly><PageBoundary><Suspense fallback={<Loading />}><SignupPage /></Suspense></PageBoundary></GuestOnly>} />
        <Route element={<RequireSession />}>
          <Route index element={<Navigate to="/bots" replace />} />
          <Route path="/bots" element={<BotsPage />} />
          <Route path="/bots/:botId" element={<BotPage />} />
          <Route path="/bots/:botId/:tab" element={<BotPage />} />
          <Route path="/knowledge" element={<KnowledgePage />} />
          <Route path="/knowledge/:kbId" element={<KnowledgeBasePage />} />
          <Route path="/inbox" element={<InboxPage />} />
          <Route path="/analytics" element={<AnalyticsPage />} />
          <Route path="*" element={<Navigate to="/bots" replace />} />
        </Route>
      </Routes>
    </Suspense>
  );
}
