# Two commands: `make train` and `make test`.  Both first build .venv (a virtual environment in
# the project folder, so nothing is installed system-wide), reinstalling when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The main job.  One line, so it is easy to change.  --force: `make train` again replaces runs/cnn
# (tinynet train refuses to write over a finished run without it).
TRAIN_CMD = $(VENV)/bin/tinynet train --model cnn --epochs 2 --optimizer adam --lr 1e-3 --batch-size 64 --normalize mnist --seed 0 --out runs/cnn --force

.PHONY: train test venv notebooks clean

train: $(STAMP)
	$(TRAIN_CMD)

test: $(VENV)/.installed-tests
	$(PY) -m pytest -q

venv: $(STAMP)

# The lessons as Jupyter notebooks, run, with their output and figures inline (lessons/NN_*.ipynb,
# ignored by git).  `make notebooks QUICK=1`: quick mode.  Installs the notebooks extra first.
notebooks: $(VENV)/.installed-notebooks
	$(if $(filter-out 0 1,$(QUICK)),$(error QUICK=$(QUICK): use QUICK=1 for quick mode, or leave it out for full mode))
	$(PY) lessons/make_notebooks.py $(if $(filter 1,$(QUICK)),--quick)

$(VENV)/.installed-notebooks: pyproject.toml | $(STAMP)
	$(PY) -m pip install -e '.[test,notebooks]'
	touch $@

# Some Debian/Ubuntu Pythons lack ensurepip (package python3-venv): then make the venv
# without pip and bootstrap pip with get-pip.py; if that fails too, remove the half-made venv.
$(PY):
	$(PYTHON) -m venv $(VENV) || { \
	  echo "'$(PYTHON) -m venv' failed; trying get-pip.py (or: sudo apt install python3-venv)"; \
	  rm -rf $(VENV) && $(PYTHON) -m venv --without-pip $(VENV) && \
	  $(PY) -c "import urllib.request as u; u.urlretrieve('https://bootstrap.pypa.io/get-pip.py', '$(VENV)/get-pip.py')" && \
	  $(PY) $(VENV)/get-pip.py || { rm -rf $(VENV); exit 1; }; }

# The tests also drive a browser (selenium) and run two lessons as notebooks (the notebooks extra).
$(VENV)/.installed-tests: pyproject.toml | $(STAMP)
	$(PY) -m pip install -e '.[test,browser,notebooks]'
	touch $@

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

# (leaves .venv alone: delete it by hand to rebuild from scratch)
clean:
	rm -rf build *.egg-info
