# Two commands on a fresh machine (Debian/Ubuntu or macOS, with Python >= 3.10 and make):
#   make demo   create .venv, install cadence, run calculator, a recorded run, scan of audio/,
#               the beats of one song (with clicks), 8 metronome beats
#   make test   create .venv with the test extras, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# Debian packages: PortAudio for playback, LAME for fast MP3 encoding (without it
# soundfile's slower copy encodes); a JACK server for the real-time test.
DEBS_RUN := libportaudio2 libmp3lame0 libmpg123-0
DEBS_TEST := libportaudio2 libmp3lame0 libmpg123-0 jackd2

.PHONY: demo test lint format benchmarks clean sysdeps-run sysdeps-test stretcher

# A real recorded run from ../shared (CI and the development machines have it).
RUN_FIT := ../shared/data/activities/activity-small-fenix2-run.fit

demo: sysdeps-run $(VENV)/.installed-run
	@echo "== cadence calc --steps 78 --one-foot   (78 right-foot contacts in 60 s)"
	@$(BIN)/cadence calc --steps 78 --one-foot
	@echo
	@echo "== cadence plan --current 156 --goal 172"
	@$(BIN)/cadence plan --current 156 --goal 172
	@echo
	@if [ -f $(RUN_FIT) ]; then \
		echo "== cadence calc --from $(RUN_FIT)   (a recorded run)"; \
		$(BIN)/cadence calc --from $(RUN_FIT); echo; \
	else echo "== (no $(RUN_FIT) beside this clone: skipping the recorded run;"; \
		echo "   try cadence calc --from YOUR_RUN.fit)"; echo; fi
	@echo "== cadence scan audio --target 164 --playlist out/run-164.m3u8   (the bundled demo library)"
	@mkdir -p out
	@$(BIN)/cadence scan audio --target 164 --playlist out/run-164.m3u8 --cache out/demo-cache.sqlite3
	@echo
	@echo "== cadence beats audio/sunrise-run.mp3 --click out/sunrise-run-beats.wav   (where its beats fall; listen to the clicks)"
	@$(BIN)/cadence beats audio/sunrise-run.mp3 --click out/sunrise-run-beats.wav
	@echo
	@echo "== cadence play 164 audio -o out/run-164.mp3 --duration 2m   (your songs at exactly 164 spm, the click on their beats)"
	@$(BIN)/cadence play 164 audio -o out/run-164.mp3 --duration 2m --cache out/demo-cache.sqlite3
	@echo
	@echo "== cadence metronome 164 --beats 8   (the +5 % target; rendered to a file if there is no sound card)"
	@mkdir -p out
	@# A render of an older cadence carries no mark of its own, and cadence replaces only its own renders.
	@rm -f out/demo-164spm.wav
	@$(BIN)/cadence metronome 164 --beats 8 --accent 2 --fallback-output out/demo-164spm.wav

test: sysdeps-test $(VENV)/.installed-test
	$(BIN)/ruff check cadence tests examples benchmarks
	$(BIN)/ruff format --check cadence tests examples benchmarks
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check cadence tests examples benchmarks
	$(BIN)/ruff format --check cadence tests examples benchmarks

format: $(VENV)/.installed-test
	$(BIN)/ruff format cadence tests examples benchmarks
	$(BIN)/ruff check --fix cadence tests examples benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "cadence needs Python >= 3.10; set PYTHON=/path/to/python3.x" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory debs DEBS=python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.installed-run: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@$(MAKE) --no-print-directory stretcher
	@touch $@

$(VENV)/.installed-test: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@$(MAKE) --no-print-directory stretcher
	@touch $@ $(VENV)/.installed-run

# The stretcher (Signalsmith Stretch, in python-stretch) compiled here for this
# machine's CPU: PyPI's wheel is built for any x86-64 and stretches 1.3-1.5x
# slower (benchmarks/stretcher_build.py measures both). Linux x86-64 with a C++
# compiler only; a build that fails or does not stretch leaves PyPI's wheel, which
# works the same, slower. Done once per .venv (the wheel's tag says which it is).
STRETCH_SMOKE := import numpy as np, python_stretch as p; s = p.Signalsmith.Stretch(0); \
  s.preset(1, 44100.0); s.timeFactor = 1.05; y = s.process(np.ones((1, 44100), np.float32)); \
  assert y.shape == (1, 42000) and np.isfinite(y).all(), y.shape
stretcher:
	@[ "$$(uname -sm)" = "Linux x86_64" ] || exit 0; \
	version=$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("python-stretch"))'); \
	grep -q '^Tag: .*manylinux' $(VENV)/lib/python*/site-packages/python_stretch-$$version.dist-info/WHEEL \
	  2>/dev/null || exit 0; \
	if ! command -v c++ >/dev/null 2>&1; then \
	  echo "No C++ compiler: PyPI's generic stretcher stays (1.3-1.5x slower; install g++, then: make stretcher)."; \
	  exit 0; fi; \
	echo "Building the stretcher for this CPU (python-stretch $$version from source, -march=native; under a minute)"; \
	if $(BIN)/python -m pip install --quiet --no-cache-dir --no-deps --force-reinstall \
	     --no-binary python-stretch -C cmake.define.CMAKE_CXX_FLAGS=-march=native \
	     "python-stretch==$$version" && $(BIN)/python -c '$(STRETCH_SMOKE)'; then :; else \
	  echo "The build failed or was stopped: PyPI's generic wheel stays (stretching works, 1.3-1.5x slower; to try again: make stretcher)." >&2; \
	  $(BIN)/python -m pip install --quiet --no-deps --force-reinstall --only-binary python-stretch \
	    "python-stretch==$$version"; \
	fi

sysdeps-run:
	@$(MAKE) --no-print-directory debs DEBS="$(DEBS_RUN)"

sysdeps-test:
	@$(MAKE) --no-print-directory debs DEBS="$(DEBS_TEST)"

# Install the Debian packages in $(DEBS) that are missing, as root or with
# password-less sudo; otherwise stop and name them. Elsewhere (macOS: the
# sounddevice wheel bundles PortAudio) there is nothing to do.
.PHONY: debs
debs:
	@command -v dpkg-query >/dev/null 2>&1 || exit 0; \
	missing=""; \
	for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else \
	  echo "cadence needs these Debian packages:$$missing" >&2; \
	  echo "Install them, then run make again:  sudo apt-get install$$missing" >&2; \
	  exit 1; \
	fi; \
	echo "Installing Debian packages:$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing
