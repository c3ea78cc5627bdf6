# ncpi-qa service image. Builds the index from corpus/ at build time; runs as a non-root user.
FROM python:3.11-slim-bookworm

# CPU-only PyTorch: requirements.lock pins torch==2.13.0+cpu, served by PyTorch's CPU index.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1

# LightGBM (the answer ranker's trees) links the system's OpenMP runtime, which slim lacks.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 qa \
    && useradd --system --uid 10001 --gid qa --home-dir /app --shell /usr/sbin/nologin qa

WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --extra-index-url "${TORCH_INDEX_URL}" -r requirements.lock
COPY qa_service ./qa_service
RUN pip install --no-deps .

COPY corpus ./corpus
# The dev questions the encoder is adapted on (qa_service/evaluation/adaptation.py).
COPY eval/questions.jsonl ./eval/questions.jsonl
# The adapted encoder (models/) and the index are part of the image and read-only at run time.
RUN qa prepare --quiet --index index && qa index --quiet --corpus corpus --index index

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000", "--index", "index"]
