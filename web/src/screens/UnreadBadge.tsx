import { useApp } from "../context";
import "../unread.css";

/** A thread's unread count on its link: the number ("9+" beyond 9), read out as words
 * ("3 unread messages"); nothing when all is read or the count is not known. */
export function UnreadBadge({ count }: { count: number | undefined }) {
  const { t } = useApp();
  if (!count) return null;
  const label = count > 9 ? t("unread.many") : count === 1 ? t("unread.one") : t("unread.some", { n: String(count) });
  return (
    <span class="unread-badge" role="img" aria-label={label} data-count={String(count)}>
      {count > 9 ? "9+" : String(count)}
    </span>
  );
}
