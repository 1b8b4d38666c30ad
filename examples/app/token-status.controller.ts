import { Controller, Get } from '@nestjs/common';
import { type RefreshStatus, TokenRefreshService } from '../../src';

@Controller('token')
export class TokenStatusController {
  constructor(private readonly tokens: TokenRefreshService) {}

  /** State, expiry and failures of the registration: getRefreshStatus() holds no token values. */
  @Get('status')
  status(): RefreshStatus {
    return this.tokens.getRefreshStatus();
  }
}
