// Client routes under /app/ (the server answers index.html for each). A screen per
// route; later screens (schedule, homework, invite, the child's today) add one here.

export const BASE = "/app";

export type Route =
  | { name: "home" }
  | { name: "signIn" }
  | { name: "thread"; caseId: string; kind: "family" | "child" } // the family or the child thread (a parent's and a therapist's)
  | { name: "documents"; caseId: string } // screens/Documents.tsx
  | { name: "week" } // the therapist's schedule (screens/WeekSchedule.tsx)
  | { name: "schedule"; caseId: string; appointmentId: string | null } // with an id: its cancel sheet open
  | { name: "settings"; caseId: string } // notifications, the child's reminder time and quiet hours
  | { name: "pair" } | { name: "today" } // the child's tablet (screens/Pair.tsx, Today.tsx)
  | { name: "homework"; caseId: string } | { name: "pairTablet"; caseId: string } // a parent's (screens/Homework.tsx, PairTablet.tsx); a therapist's homework: screens/TaskBoard.tsx
  | { name: "devices" } | { name: "recovery" } // screens/Devices.tsx, Recovery.tsx
  | { name: "invite" } // the first-visit QR (screens/Invite.tsx); /app/invite#<QR text> fills it in
  | { name: "call"; appointmentId: string } // a video session's room (call/Room.tsx)
  | { name: "notFound" };

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

export function parse(pathname: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  if (path === "" || path === "/") return { name: "home" };
  if (path === "/signin") return { name: "signIn" };
  if (path === "/devices" || path === "/recovery") return { name: path === "/devices" ? "devices" : "recovery" };
  if (path === "/invite") return { name: "invite" };
  if (path === "/schedule") return { name: "week" };
  if (path === "/pair" || path === "/today") return { name: path === "/pair" ? "pair" : "today" };
  const call = new RegExp(`^/calls/(${UUID})$`).exec(path);
  if (call?.[1]) return { name: "call", appointmentId: call[1] };
  const thread = new RegExp(`^/cases/(${UUID})/(family|child)$`).exec(path);
  if (thread?.[1]) return { name: "thread", caseId: thread[1], kind: thread[2] === "child" ? "child" : "family" };
  const documents = new RegExp(`^/cases/(${UUID})/documents$`).exec(path);
  if (documents?.[1]) return { name: "documents", caseId: documents[1] };
  const settings = new RegExp(`^/cases/(${UUID})/settings$`).exec(path);
  if (settings?.[1]) return { name: "settings", caseId: settings[1] };
  const schedule = new RegExp(`^/cases/(${UUID})/appointments(?:/(${UUID})/cancel)?$`).exec(path);
  if (schedule?.[1]) return { name: "schedule", caseId: schedule[1], appointmentId: schedule[2] ?? null };
  const family = new RegExp(`^/cases/(${UUID})/(homework|tablet)$`).exec(path);
  if (family?.[1]) return { name: family[2] === "homework" ? "homework" : "pairTablet", caseId: family[1] };
  return { name: "notFound" };
}

export function href(route: Route): string {
  switch (route.name) {
    case "home":
    case "notFound":
      return `${BASE}/`;
    case "signIn":
      return `${BASE}/signin`;
    case "invite":
      return `${BASE}/invite`;
    case "week":
      return `${BASE}/schedule`;
    case "pair":
    case "today":
    case "devices":
    case "recovery":
      return `${BASE}/${route.name}`;
    case "thread":
      return `${BASE}/cases/${route.caseId}/${route.kind}`;
    case "call":
      return `${BASE}/calls/${route.appointmentId}`;
    case "documents":
      return `${BASE}/cases/${route.caseId}/documents`;
    case "settings":
      return `${BASE}/cases/${route.caseId}/settings`;
    case "homework":
      return `${BASE}/cases/${route.caseId}/homework`;
    case "pairTablet":
      return `${BASE}/cases/${route.caseId}/tablet`;
    case "schedule":
      return `${BASE}/cases/${route.caseId}/appointments${route.appointmentId ? `/${route.appointmentId}/cancel` : ""}`;
  }
}

export function navigate(route: Route, replace = false): void {
  const url = href(route);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}
