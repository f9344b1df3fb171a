# syntax=docker/dockerfile:1
# One image for every process: web (gunicorn), init (migrate), worker and beat (Celery).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    SROI_ENV=production

WORKDIR /app

RUN groupadd --system --gid 10001 sroi \
    && useradd --system --uid 10001 --gid sroi --home-dir /app --no-create-home sroi

# Dependencies first, so code changes do not reinstall them (psycopg[binary] needs no compiler).
COPY requirements.txt .
RUN pip install "setuptools<81" wheel \
    && pip install --no-build-isolation $(grep -h '^xstatic-' requirements.txt) \
    && pip install -r requirements.txt

COPY . .

# Static files are built into the image and served by whitenoise. The SECRET_KEY here exists only
# for this build step; it is not stored in the image's environment.
RUN SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --noinput \
    && mkdir -p /app/var/private \
    && chown -R sroi:sroi /app/var

USER sroi

EXPOSE 8000

# The check sends a host from ALLOWED_HOSTS and X-Forwarded-Proto: https, as the reverse proxy
# does, so host validation and SECURE_SSL_REDIRECT need no exemption for /healthz/.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request as u; h = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); h = h if h not in ('', '*') else 'localhost'; u.urlopen(u.Request('http://127.0.0.1:8000/healthz/', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=4)"

CMD ["gunicorn", "sroi.wsgi:application", "--bind", "0.0.0.0:8000"]
