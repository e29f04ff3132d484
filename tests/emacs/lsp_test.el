;;; lsp_test.el --- real Emacs + eglot as the client of `splitlink lsp'  -*- lexical-binding: t -*-
;; Run by tests/emacs/run.sh:
;;   emacs --batch -Q -l packages.el -l lsp_test.el   (env SPLITLINK_BIN, SPLITLINK_WS)
;; Opens app/src/main.rs of a fixture Cargo workspace, starts eglot through
;; `eglot-server-programs' (the entry users write), then: a type error saved -> an error from
;; splitlink in Flymake on its line with rustc's message; fixed and saved -> gone; a call of an
;; `extern "C"' function defined nowhere -> the linker's error in ffi/src/lib.rs on the call's line;
;; fixed -> gone. Every wait has a timeout that fails the test with what was seen so far.
(require 'cl-lib)
(require 'eglot)
(require 'flymake)
(require 'project)

(defvar splitlink-test-bin (or (getenv "SPLITLINK_BIN") (error "SPLITLINK_BIN is not set")))
(defvar splitlink-test-ws (file-name-as-directory (or (getenv "SPLITLINK_WS") (error "SPLITLINK_WS is not set"))))
(defvar splitlink-test-passed 0)
(defvar splitlink-test-failed 0)
(defvar splitlink-test-builds nil "The `splitlink/buildFinished' params received, newest first.")
(defvar splitlink-test-messages nil "The `window/showMessage' texts received, newest first.")

(defun splitlink-test-out (fmt &rest args)
  (princ (concat (apply #'format fmt args) "\n")))

(defun splitlink-test-check (name ok &optional detail)
  (if ok
      (progn (cl-incf splitlink-test-passed) (splitlink-test-out "ok - %s" name))
    (cl-incf splitlink-test-failed)
    (splitlink-test-out "not ok - %s%s" name (if detail (format ": %s" detail) ""))))

;; Emacs 28 has no Rust mode built in, and the test installs no package from MELPA: a minimal
;; stand-in named `rust-mode' (what the rust-mode package defines), so that the
;; `eglot-server-programs' entry below is exactly what users of rust-mode write, and eglot sends
;; the languageId "rust".
(define-derived-mode rust-mode prog-mode "Rust")
(add-to-list 'auto-mode-alist '("\\.rs\\'" . rust-mode))
;; The user's configuration, with the built binary for "splitlink".
(add-to-list 'eglot-server-programs `(rust-mode . (,splitlink-test-bin "lsp")))

;; The project is the Cargo workspace (a real checkout has git, which project.el finds by itself;
;; the fixture is a plain directory).
(add-hook 'project-find-functions
          (lambda (dir) (when (file-in-directory-p dir splitlink-test-ws) (cons 'transient splitlink-test-ws))))

;; splitlink's own notifications: the test waits on buildFinished (eglot logs unknown ones).
(cl-defmethod eglot-handle-notification (_server (_method (eql splitlink/buildFinished)) &rest params)
  (push params splitlink-test-builds))
(cl-defmethod eglot-handle-notification :before (_server (_method (eql window/showMessage)) &key message &allow-other-keys)
  (push message splitlink-test-messages))

(setq make-backup-files nil create-lockfiles nil auto-save-default nil
      eglot-sync-connect t eglot-connect-timeout 60 eglot-autoshutdown nil)

(defun splitlink-test-diags (buffer)
  "Flymake's diagnostics in BUFFER as (LINE TYPE TEXT), LINE 1-based."
  (with-current-buffer buffer
    (mapcar (lambda (d) (list (line-number-at-pos (flymake-diagnostic-beg d))
                              (flymake-diagnostic-type d)
                              (flymake-diagnostic-text d)))
            (flymake-diagnostics))))

(defun splitlink-test-wait (what seconds pred)
  "Process events until PRED returns non-nil (returned), or fail with WHAT after SECONDS."
  (let ((deadline (+ (float-time) seconds)) v)
    (while (and (not (setq v (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or v
        (progn
          (splitlink-test-check (format "%s (timed out after %d s)" what seconds) nil
                                (format "builds: %S; server messages: %S" (reverse splitlink-test-builds) splitlink-test-messages))
          nil))))

(defun splitlink-test-error-at (buffer line regexp)
  (cl-find-if (lambda (d) (and (= (nth 0 d) line) (eq (nth 1 d) 'eglot-error)
                               (string-match-p regexp (nth 2 d))))
              (splitlink-test-diags buffer)))

(defun splitlink-test-no-errors (buffer)
  (not (cl-find-if (lambda (d) (eq (nth 1 d) 'eglot-error)) (splitlink-test-diags buffer))))

(defun splitlink-test-replace-line (buffer line text)
  (with-current-buffer buffer
    (goto-char (point-min))
    (forward-line (1- line))
    (delete-region (line-beginning-position) (line-end-position))
    (insert text)))

(defun splitlink-test-save (buffer)
  "Save BUFFER (eglot sends didSave) and return the number of builds before it."
  (let ((n (length splitlink-test-builds)))
    (with-current-buffer buffer (save-buffer))
    n))

(defun splitlink-test-build-after (n what)
  (splitlink-test-wait what 120 (lambda () (and (> (length splitlink-test-builds) n) (car splitlink-test-builds)))))

(defun splitlink-test-run ()
  (let* ((main (find-file-noselect (expand-file-name "app/src/main.rs" splitlink-test-ws)))
         (lib (find-file-noselect (expand-file-name "ffi/src/lib.rs" splitlink-test-ws)))
         server)
    (switch-to-buffer main)
    (splitlink-test-check "main.rs is in rust-mode" (eq major-mode 'rust-mode) (format "%s" major-mode))
    ;; What M-x eglot (or eglot-ensure) does: the contact from `eglot-server-programs'.
    (let ((contact (eglot--guess-contact)))
      (splitlink-test-check "eglot-server-programs gives splitlink lsp"
                            (equal (nth 3 contact) (list splitlink-test-bin "lsp")) (format "%S" contact))
      (setq server (apply #'eglot contact)))
    (splitlink-test-check "eglot connected" (and server (jsonrpc-running-p server)))
    (splitlink-test-check "the server is splitlink"
                          (equal (plist-get (eglot--server-info server) :name) "splitlink")
                          (format "%S" (eglot--server-info server)))
    ;; lib.rs managed too before any diagnostic for it arrives (eglot 1.9 drops diagnostics for
    ;; files it does not manage).
    (with-current-buffer lib (eglot--maybe-activate-editing-mode))
    (splitlink-test-check "ffi/src/lib.rs managed by the same server"
                          (with-current-buffer lib (eq (eglot-current-server) server)))
    (let ((first (splitlink-test-build-after 0 "the first build")))
      (splitlink-test-check "first build succeeded" (eq (plist-get first :success) t) (format "%S" first)))

    ;; A type error on line 2.
    (splitlink-test-replace-line main 2 "    let n: u32 = \"five\"; println!(\"{} {n}\", ffi::fine());")
    (let* ((n (splitlink-test-save main))
           (b (splitlink-test-build-after n "the build after saving the type error")))
      (splitlink-test-check "that build failed" (and b (eq (plist-get b :success) :json-false)) (format "%S" b)))
    (let ((d (splitlink-test-wait "the type error in Flymake" 30
                                  (lambda () (splitlink-test-error-at main 2 "mismatched types")))))
      (when d
        (splitlink-test-check "error on line 2, from splitlink, with rustc's code and message"
                              (string-match-p "\\`splitlink \\[E0308\\]: mismatched types" (nth 2 d)) (nth 2 d))))
    ;; Fixed.
    (splitlink-test-replace-line main 2 "    println!(\"{}\", ffi::fine());")
    (let* ((n (splitlink-test-save main))
           (b (splitlink-test-build-after n "the build after the fix")))
      (splitlink-test-check "the fixed build succeeded" (and b (eq (plist-get b :success) t)) (format "%S" b)))
    (when (splitlink-test-wait "the error cleared in Flymake" 30 (lambda () (splitlink-test-no-errors main)))
      (splitlink-test-check "no error left in main.rs" t))

    ;; A linker error: ffi::call_it calls an extern "C" function that nothing defines.
    (splitlink-test-replace-line main 2 "    println!(\"{}\", ffi::call_it(1));")
    (let* ((n (splitlink-test-save main))
           (b (splitlink-test-build-after n "the build that fails to link")))
      (splitlink-test-check "the link failed" (and b (eq (plist-get b :success) :json-false)) (format "%S" b)))
    ;; The user looks at ffi/src/lib.rs: Flymake starts there when the buffer is displayed (its
    ;; on-display start runs at redisplay, which batch mode has not: start it as display would).
    (switch-to-buffer lib)
    (flymake-start)
    (let ((d (splitlink-test-wait "the linker error in ffi/src/lib.rs" 30
                                  (lambda () (splitlink-test-error-at lib 6 "not_defined_anywhere")))))
      (when d
        (splitlink-test-check "linker error on the call's line (6), code link:undefined-symbol"
                              (string-match-p "\\[link:undefined-symbol\\]" (nth 2 d)) (nth 2 d))))
    (splitlink-test-replace-line main 2 "    println!(\"{}\", ffi::fine());")
    (let* ((n (splitlink-test-save main))
           (b (splitlink-test-build-after n "the build after removing the call")))
      (splitlink-test-check "that build succeeded" (and b (eq (plist-get b :success) t)) (format "%S" b)))
    (when (splitlink-test-wait "the linker error cleared" 30 (lambda () (splitlink-test-no-errors lib)))
      (splitlink-test-check "no error left in ffi/src/lib.rs" t))

    (ignore-errors (eglot-shutdown server))))

(condition-case err
    (splitlink-test-run)
  (error (splitlink-test-check "no Lisp error" nil (error-message-string err))))
(splitlink-test-out "%d passed, %d failed" splitlink-test-passed splitlink-test-failed)
(when (> splitlink-test-failed 0)
  (with-current-buffer (get-buffer-create "*splitlink-test-events*")
    (dolist (b (buffer-list))
      (when (string-match-p "EGLOT.*events" (buffer-name b))
        (splitlink-test-out "--- last of %s:\n%s" (buffer-name b)
                            (with-current-buffer b (buffer-substring-no-properties (max (point-min) (- (point-max) 6000)) (point-max))))))))
(kill-emacs (if (> splitlink-test-failed 0) 1 0))
