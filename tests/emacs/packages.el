;;; packages.el --- make eglot loadable under `emacs -Q'  -*- lexical-binding: t -*-
;; Emacs 29+ has eglot built in. On Emacs 28 (Debian 12) it comes from the elpa-eglot package,
;; installed under /usr/share/emacs/site-lisp/elpa, which `-Q' (no site-start) does not activate:
;; activate the system's ELPA packages (eglot and the newer project/xref/seq it needs).
(require 'package)
(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
