// Renders the math written in the pages with the self-hosted KaTeX in docs/assets/katex.
//
// pymdownx.arithmatex (generic mode) wraps every formula in an element with the class "arithmatex":
// inline math as <span class="arithmatex">\( ... \)</span>, display math as <div class="arithmatex">\[ ... \]</div>.
// We render only inside those elements, so a "\(" in ordinary text or code is never touched.

(function () {
  var delimiters = [
    { left: "\\(", right: "\\)", display: false },
    { left: "\\[", right: "\\]", display: true },
  ];

  // Notebook pages (mkdocs-jupyter) keep Jupyter's dollar signs in Markdown cells; render those cells too.
  var notebookDelimiters = [{ left: "$$", right: "$$", display: true }, { left: "$", right: "$", display: false }];

  function renderMath() {
    document.querySelectorAll(".arithmatex").forEach(function (element) {
      renderMathInElement(element, {
        delimiters: delimiters,
        throwOnError: false, // show a bad formula in red instead of stopping the rest of the page
      });
    });
    document.querySelectorAll(".jupyter-wrapper .jp-RenderedMarkdown").forEach(function (element) {
      renderMathInElement(element, {
        delimiters: notebookDelimiters.concat(delimiters),
        throwOnError: false,
      });
    });
  }

  // Material for MkDocs emits `document$` on the first page load and again after each instant-navigation page
  // change; without it (e.g. if the bundle failed to load) fall back to the plain DOM event.
  if (typeof document$ !== "undefined") {
    document$.subscribe(renderMath);
  } else {
    document.addEventListener("DOMContentLoaded", renderMath);
  }
})();
