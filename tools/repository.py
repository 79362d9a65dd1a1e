"""MkDocs hook: where the project lives is said once, in mkdocs.yml's `extra` block.

`extra.repository` (the GitHub address) and `extra.branch` give the "Open in Colab" links (overrides/main.html),
the address from which a notebook outside the repository downloads its helpers and data (tools/notebooks.py) and,
here, the "Edit this page" links. `extra.published_url` is the site's own address, which the notebooks link back
to; `SITE_URL` sets the build's address (.github/workflows/site.yml sets both to the GitHub Pages address).
Registered in mkdocs.yml under `hooks:`.
"""


def on_config(config):
    if not config.get("edit_uri"):  # repo_url stays unset (see mkdocs.yml), so the edit link must be absolute
        extra = config["extra"]
        config["edit_uri"] = f"{extra['repository'].rstrip('/')}/edit/{extra['branch']}/docs/"
    return config
