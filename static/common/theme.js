// Light or dark: the choice saved in this browser, else the system's. Loaded in <head> so the
// page never flashes in the other theme.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("fleetops-theme"); } catch (e) { /* storage blocked */ }
  if (saved === "light" || saved === "dark") document.documentElement.setAttribute("data-theme", saved);
})();
