// Progressive enhancement only: every page works without this file.
// - buttons with data-confirm ask before their form is sent (withdrawing from a course);
// - "Copy" buttons next to share links copy the link (they stay hidden where the clipboard cannot be used);
// - choosing a credential's file on the verify page shows its text in the paste box, so it can be looked at first.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});

if (navigator.clipboard) {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.setAttribute("aria-pressed", "true");
    });
  }
}

const file = document.getElementById("field-file");
const pasted = document.getElementById("field-credential");
if (file && pasted) {
  file.addEventListener("change", async () => {
    const [chosen] = file.files;
    if (chosen && chosen.size < 300000) pasted.value = await chosen.text();
  });
}

// After a verification, the verdict is where the reader's attention goes (screen readers announce it).
document.getElementById("verdict")?.focus();
