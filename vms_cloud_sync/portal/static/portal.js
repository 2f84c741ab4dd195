// Lists that change while HQ watches (overview, events, incidents) refresh in place: the page's #live section
// is fetched again and swapped, without a full reload (filters, scroll position and a playing clip stay).
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || !live.dataset.refresh) { return; }
  const every = Math.max(500, Number(live.dataset.refresh) * 1000);
  let refreshes = 0;
  async function tick() {
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
      if (response.ok && !response.redirected) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("live");
        if (fresh) {
          live.innerHTML = fresh.innerHTML;
          refreshes += 1;
          live.dataset.refreshes = String(refreshes);
        }
      }
    } catch (error) {
      // The backend is restarting or the link dropped: try again at the next tick.
    }
    window.setTimeout(tick, every);
  }
  window.setTimeout(tick, every);
})();
