import { HttpService } from '@nestjs/axios';
import { BadGatewayException, Controller, Get, type HttpException, Logger, ServiceUnavailableException } from '@nestjs/common';
import { isAxiosError } from 'axios';
import { firstValueFrom } from 'rxjs';
import { InjectTokenRefreshHttp, TokenRefreshError } from '../../src';

export interface DemoAnswer {
  upstream: { status: number; data: unknown };
}

@Controller('demo')
export class DemoController {
  private readonly logger = new Logger(DemoController.name);

  constructor(@InjectTokenRefreshHttp() private readonly api: HttpService) {}

  /** Calls the protected API with the current token; the HttpService adds it and handles 401s. */
  @Get()
  async demo(): Promise<DemoAnswer> {
    try {
      const response = await firstValueFrom(this.api.get<unknown>('/data'));
      return { upstream: { status: response.status, data: response.data } };
    } catch (error) {
      throw this.toHttpError(error);
    }
  }

  /** axios errors carry the request config, Authorization included: only the status leaves here. */
  private toHttpError(error: unknown): HttpException {
    if (error instanceof TokenRefreshError) {
      this.logger.warn(`no valid token to call the protected API (${error.code})`);
      return new ServiceUnavailableException({ message: 'no valid token to call the protected API', code: error.code });
    }
    const upstreamStatus = isAxiosError(error) ? (error.response?.status ?? null) : null;
    const code = isAxiosError(error) ? (error.code ?? null) : null;
    this.logger.warn(`protected API call failed (${upstreamStatus ?? code ?? 'unknown error'})`);
    return new BadGatewayException({ message: 'the protected API call failed', upstreamStatus, code });
  }
}
