FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# The web UI bundle (esbuild and hls.js are runtime dependencies for this).
RUN node scripts/build-web.mjs
ENV NODE_ENV=production
EXPOSE 8080 1935
USER node
CMD ["node", "--import", "tsx", "src/main.ts"]
