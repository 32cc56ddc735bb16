// The signed-in session: restored on load by a silent refresh, set by sign-in and sign-up,
// cleared by sign-out (here or in another tab: the client shares refreshes and sign-outs
// with the browser's other tabs). Also the current organization (its id remembered in localStorage).

import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../lib/api";
import type { MyOrg, RegisterResult, Session, User } from "../lib/types";

const ORG_KEY = "botbuilder.org";

type Status = "loading" | "signed-in" | "signed-out";

interface SessionState {
  status: Status;
  user: User | null;
  orgs: MyOrg[];
  org: MyOrg | null;
  selectOrg(id: string): void;
  reloadOrgs(): Promise<void>;
  signIn(email: string, password: string): Promise<void>;
  signUp(input: { name: string; email: string; password: string; organization_name: string }): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queries = useQueryClient();
  const [status, setStatus] = useState<Status>("loading");
  const [user, setUser] = useState<User | null>(null);
  const [orgs, setOrgs] = useState<MyOrg[]>([]);
  const [orgId, setOrgId] = useState<string | null>(() => localStorage.getItem(ORG_KEY));

  const signedOut = useCallback(() => {
    api.setToken(null);
    setUser(null);
    setOrgs([]);
    setStatus("signed-out");
    queries.clear();
  }, [queries]);

  const adopt = useCallback((session: Session) => {
    setUser(session.user);
    setOrgs(session.organizations);
    setStatus("signed-in");
  }, []);

  useEffect(() => {
    api.onSignedOut = signedOut;
    const disconnect = api.connectTabs();
    let live = true;
    void (async () => {
      const token = await api.refresh();
      if (!live) return;
      if (!token) return signedOut();
      try {
        const me = await api.get<Session>("/api/v1/me");
        if (live) adopt(me);
      } catch {
        if (live) signedOut();
      }
    })();
    return () => {
      live = false;
      disconnect();
    };
  }, [adopt, signedOut]);

  const selectOrg = useCallback((id: string) => {
    localStorage.setItem(ORG_KEY, id);
    setOrgId(id);
  }, []);

  const reloadOrgs = useCallback(async () => {
    setOrgs(await api.get<MyOrg[]>("/api/v1/orgs"));
  }, []);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const session = await api.post<Session>("/api/v1/auth/login", { email, password });
      api.setToken(session.access_token ?? null);
      queries.clear();
      adopt(session);
    },
    [adopt, queries],
  );

  const signUp = useCallback(
    async (input: { name: string; email: string; password: string; organization_name: string }) => {
      const result = await api.post<RegisterResult>("/api/v1/auth/register", input);
      api.setToken(result.access_token);
      queries.clear();
      selectOrg(result.organization.id);
      adopt(await api.get<Session>("/api/v1/me"));
    },
    [adopt, queries, selectOrg],
  );

  const signOut = useCallback(async () => {
    try {
      await api.post("/api/v1/auth/logout");
    } finally {
      api.broadcastSignOut();
      signedOut();
    }
  }, [signedOut]);

  const org = orgs.find((o) => o.id === orgId) ?? orgs[0] ?? null;
  const value = useMemo(
    () => ({ status, user, orgs, org, selectOrg, reloadOrgs, signIn, signUp, signOut }),
    [status, user, orgs, org, selectOrg, reloadOrgs, signIn, signUp, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error("useSession outside SessionProvider");
  return state;
}

/** The current organization's id (pages under the layout always have one). */
export function useOrgId(): string {
  const { org } = useSession();
  if (!org) throw new Error("no organization");
  return org.id;
}
